// swift-tools-version:6.0
import PackageDescription

// libscore: an embeddable runtime for small Hugging Face decoder models.
// Layers (see README): CBLAS <- SCoReRuntime <- CAPI (libscore.so) ; score-cli.

let exportMap = Context.packageDirectory + "/tools/libscore.map"

let optimise: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

let package = Package(
    name: "libscore",
    products: [
        .library(name: "score", type: .dynamic, targets: ["CAPI"]),
        .executable(name: "score-cli", targets: ["score-cli"]),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(
            name: "CScoreABI",
            path: "include",
            exclude: [],
            sources: ["score_abi.c"],
            publicHeadersPath: "."
        ),
        .target(
            name: "SCoReRuntime",
            dependencies: ["CBLAS"],
            swiftSettings: optimise
        ),
        .target(
            name: "CAPI",
            dependencies: ["SCoReRuntime", "CScoreABI"],
            swiftSettings: optimise + [.enableExperimentalFeature("CImplementation")],
            linkerSettings: [
                .unsafeFlags(["-static-stdlib", "-Xlinker", "--version-script=\(exportMap)"]),
            ]
        ),
        .executableTarget(
            name: "score-cli",
            dependencies: ["SCoReRuntime"],
            swiftSettings: optimise,
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]
        ),
        .testTarget(
            name: "SCoReRuntimeTests",
            dependencies: ["SCoReRuntime"]
        ),
    ]
)
