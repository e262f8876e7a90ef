// swift-tools-version:6.0
import PackageDescription

// libscore: an embeddable runtime for small Hugging Face decoder models.
// Layers (see README): CBLAS <- SCoReRuntime <- CAPI (libscore.so) ; score-cli.

let exportMap = Context.packageDirectory + "/tools/libscore.map"

// Vector code is compiled for Haswell-class CPUs (x86-64-v3: AVX2 + FMA: every x86 server CPU
// since 2013-2015, and the baseline of current enterprise distributions).
// SCORE_TARGET_CPU=native (make NATIVE=1) tunes for the build machine, e.g.
// AVX-512. Matrix products are unaffected: OpenBLAS picks its kernels at run time.
let targetCPU = Context.environment["SCORE_TARGET_CPU"] ?? "haswell"

let optimise: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo", "-target-cpu", targetCPU], .when(configuration: .release)),
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
        // Our own C: cpuid, OpenBLAS core selection, intrinsics kernels.
        .target(
            name: "CKernels",
            path: "Sources/CKernels"
        ),
        .target(
            name: "SCoReRuntime",
            dependencies: ["CBLAS", "CKernels"],
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
        // The demo's tasks and pipeline: score-cli's, not the library's.
        .target(
            name: "SCoReDemo",
            dependencies: ["SCoReRuntime"],
            swiftSettings: optimise
        ),
        // MPI for score-cli only, loaded at run time (libscore.so never links it).
        .target(
            name: "CMPIShim",
            path: "Sources/CMPIShim",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .executableTarget(
            name: "score-cli",
            dependencies: ["SCoReRuntime", "SCoReDemo", "CMPIShim", "CKernels"],
            swiftSettings: optimise,
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]
        ),
        .testTarget(
            name: "SCoReRuntimeTests",
            dependencies: ["SCoReRuntime", "SCoReDemo"]
        ),
    ]
)
