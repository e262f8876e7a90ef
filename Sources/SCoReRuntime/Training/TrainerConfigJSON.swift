/// TrainerConfig as stored in trainer_state.json. Floats are written as the
/// doubles they widen to, so they read back bit for bit.
extension TrainerConfig {
    var json: JSON {
        var params: [(String, JSON)] = [("kind", .string("full"))]
        if case .lora(let lc) = parameters {
            params = [("kind", .string("lora")), ("rank", .int(Int64(lc.rank))), ("alpha", .double(Double(lc.alpha))),
                      ("targets", .array(lc.targets.map { .string($0.rawValue) }))]
        }
        return .object([
            ("parameters", .object(params)),
            ("optimizer", .object([
                ("learning_rate", .double(Double(optimizer.learningRate))),
                ("beta1", .double(Double(optimizer.beta1))), ("beta2", .double(Double(optimizer.beta2))),
                ("epsilon", .double(Double(optimizer.epsilon))), ("weight_decay", .double(Double(optimizer.weightDecay))),
            ])),
            ("schedule", .object([
                ("kind", .int(Int64(schedule.kind.rawValue))), ("warmup_steps", .int(Int64(schedule.warmupSteps))),
                ("total_steps", .int(Int64(schedule.totalSteps))),
            ])),
            ("max_grad_norm", .double(Double(maxGradNorm))),
            ("accumulation_steps", .int(Int64(accumulationSteps))),
            ("objective", .object([
                ("aggregation", .int(Int64(objective.aggregation.rawValue))),
                ("kl_estimator", .int(Int64(objective.klEstimator.rawValue))),
                ("kl_coefficient", .double(Double(objective.klCoefficient))),
            ])),
            ("checkpointing", .bool(checkpointing)),
            ("seed", .string(String(seed))),
        ])
    }

    init(json: JSON, source: String) throws {
        func fail(_ what: String) -> ScoreError { .format("\(source): config: missing or invalid \(what)") }
        func float(_ v: JSON?, _ what: String) throws -> Float {
            guard let d = v?.doubleValue else { throw fail(what) }
            return Float(d)
        }
        func int(_ v: JSON?, _ what: String) throws -> Int {
            guard let i = v?.intValue else { throw fail(what) }
            return i
        }
        self.init()
        let p = json["parameters"]
        switch p?["kind"]?.stringValue {
        case "full": parameters = .full
        case "lora":
            guard let names = p?["targets"]?.arrayValue?.compactMap(\.stringValue) else { throw fail("LoRA targets") }
            parameters = .lora(LoRAConfig(rank: try int(p?["rank"], "LoRA rank"), alpha: try float(p?["alpha"], "LoRA alpha"),
                                          targets: try LoRAConfig.targets(named: names)))
        default: throw fail("parameters.kind")
        }
        let o = json["optimizer"]
        optimizer = AdamWConfig(learningRate: try float(o?["learning_rate"], "learning_rate"), beta1: try float(o?["beta1"], "beta1"),
                                beta2: try float(o?["beta2"], "beta2"), epsilon: try float(o?["epsilon"], "epsilon"),
                                weightDecay: try float(o?["weight_decay"], "weight_decay"))
        let s = json["schedule"]
        guard let kind = LRSchedule.Kind(rawValue: Int32(try int(s?["kind"], "schedule kind"))) else { throw fail("schedule kind") }
        schedule = LRSchedule(kind: kind, warmupSteps: try int(s?["warmup_steps"], "warmup_steps"), totalSteps: try int(s?["total_steps"], "total_steps"))
        maxGradNorm = try float(json["max_grad_norm"], "max_grad_norm")
        accumulationSteps = try int(json["accumulation_steps"], "accumulation_steps")
        let ob = json["objective"]
        guard let agg = LossAggregation(rawValue: Int32(try int(ob?["aggregation"], "aggregation"))),
              let est = KLEstimator(rawValue: Int32(try int(ob?["kl_estimator"], "kl_estimator"))) else { throw fail("objective") }
        objective = Objective(aggregation: agg, klEstimator: est, klCoefficient: try float(ob?["kl_coefficient"], "kl_coefficient"))
        guard let cp = json["checkpointing"]?.boolValue, let seedText = json["seed"]?.stringValue, let sd = UInt64(seedText) else { throw fail("seed") }
        checkpointing = cp
        seed = sd
    }
}
