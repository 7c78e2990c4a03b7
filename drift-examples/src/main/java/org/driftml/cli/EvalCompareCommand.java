package org.driftml.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.driftml.model.RewardModel;
import org.driftml.eval.BenchmarkOutputs;
import org.driftml.eval.WinRate;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.output.OutputFolder;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code drift eval compare}: model A's outputs against model B's, judged by a reward model. */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = {"Win rate of --a against --b (each AlpacaEval's model_outputs.json or WildBench's result file,",
                "as drift eval generate writes them): for every prompt of A's (matched by instruction, or by",
                "session_id with the chat history as context), the reward model scores both outputs; A wins when its",
                "reward is higher by more than --tie-margin, loses when lower by more, ties otherwise. The win rate",
                "counts a tie as half (AlpacaEval's convention); its interval is the percentile bootstrap over",
                "prompts. Prints the result and writes it to --output (JSON) when given."})
final class EvalCompareCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--a", required = true, paramLabel = "FILE", description = "Model A's outputs")
    Path a;

    @Option(names = "--b", required = true, paramLabel = "FILE", description = "Model B's outputs")
    Path b;

    @Option(names = "--reward-model", required = true, paramLabel = "DIR", description = "The judge: a reward model")
    Path rewardModel;

    @Option(names = "--tie-margin", defaultValue = "0", paramLabel = "M",
            description = "Reward differences up to M are ties (default: 0)")
    double tieMargin;

    @Option(names = "--resamples", defaultValue = "1000", paramLabel = "N",
            description = "Bootstrap resamples (default: 1000)")
    int resamples;

    @Option(names = "--confidence", defaultValue = "0.95", paramLabel = "C",
            description = "Interval level (default: 0.95)")
    double confidence;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Bootstrap seed (default: 0)")
    long seed;

    @Option(names = "--output", paramLabel = "FILE", description = "Write the result here as JSON")
    Path output;

    @Option(names = "--dtype", defaultValue = "float32", paramLabel = "float32|bfloat16",
            description = "The judge's compute precision (default: ${DEFAULT-VALUE})")
    String dtype;

    @Mixin
    DeviceOption device = new DeviceOption();

    private static Map<String, BenchmarkOutputs.Output> read(Path file, String option) throws IOException {
        try {
            return BenchmarkOutputs.read(file);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + ": " + e.getMessage());
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr(), out = spec.commandLine().getOut();
        Map<String, BenchmarkOutputs.Output> fromA, fromB;
        Precision precision;
        ComputeDevice on;
        try {
            if (output != null) {  // the result is written apart from what it compares
                for (var input : java.util.Map.of("--a", a, "--b", b).entrySet()) {
                    if (output.toAbsolutePath().normalize().equals(input.getValue().toAbsolutePath().normalize())
                            || (java.nio.file.Files.exists(output) && java.nio.file.Files.exists(input.getValue())
                            && java.nio.file.Files.isSameFile(output, input.getValue()))) {
                        throw new IllegalArgumentException("--output " + output + " is the file of " + input.getKey()
                                + ": the result would replace what it compares; choose another file");
                    }
                }
            }
            ExploreCommand.modelFolder("--reward-model", rewardModel);
            try {
                org.driftml.model.RewardModel.check(rewardModel);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--reward-model: " + e.getMessage());
            }
            if (!(tieMargin >= 0) || !(confidence > 0 && confidence < 1)) {
                throw new IllegalArgumentException("need --tie-margin >= 0 and --confidence in (0, 1)");
            }
            // Each resample keeps its win rate: 2^31 of them asked for 17 GB and ended in an OutOfMemoryError.
            if (resamples < 1 || resamples > 1_000_000) {
                throw new IllegalArgumentException("--resamples must be in [1, 1000000] (each keeps one win rate), got "
                        + resamples);
            }
            fromA = read(a, "--a");
            fromB = read(b, "--b");
            for (String key : fromA.keySet()) {
                if (!fromB.containsKey(key)) {
                    throw new IllegalArgumentException("--b: " + b + " has no output for \""
                            + (key.length() > 60 ? key.substring(0, 57) + "..." : key)
                            + "\" of --a; compare outputs for the same prompts");
                }
                if (!fromA.get(key).prompt().equals(fromB.get(key).prompt())) {  // same id, another conversation
                    throw new IllegalArgumentException("--a and --b answer \""
                            + (key.length() > 60 ? key.substring(0, 57) + "..." : key) + "\" after different chat "
                            + "histories: " + a + " and " + b + " come from different prompt sets");
                }
            }
            precision = Precision.DTYPE.parse(dtype);
            on = device.resolve();
        } catch (IllegalArgumentException | IllegalStateException e) {
            err.println("drift eval compare: " + SettingOptions.message(e));
            err.flush();
            return 2;
        }
        List<String> keys = new ArrayList<>(fromA.keySet());
        double[] rewardA = new double[keys.size()], rewardB = new double[keys.size()];
        try (RewardModel judge = RewardModel.load(rewardModel, precision, on)) {
            for (int i = 0; i < keys.size(); i++) {
                // Both replies are judged as answers to A's record of the conversation (they are the same prompt).
                BenchmarkOutputs.Output x = fromA.get(keys.get(i));
                double[] r = judge.score(x.prompt(), List.of(x.reply(), fromB.get(keys.get(i)).reply()));
                rewardA[i] = r[0];
                rewardB[i] = r[1];
            }
        }
        WinRate.Result r = WinRate.of(rewardA, rewardB, tieMargin, resamples, confidence, seed);
        out.printf(Locale.ROOT, "A (%s) against B (%s) on %d prompts, judged by %s:%n", a, b, r.prompts(),
                rewardModel);
        out.printf(Locale.ROOT, "win rate %.3f  (%.0f%% CI %.3f-%.3f, bootstrap of %d)%n", r.winRate(),
                100 * r.confidence(), r.lower(), r.upper(), r.resamples());
        out.printf(Locale.ROOT, "wins %d, losses %d, ties %d (%.1f%%)%n", r.wins(), r.losses(), r.ties(),
                100 * r.tieShare());
        out.flush();
        if (output != null) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("a", a.toString());
            doc.put("b", b.toString());
            doc.put("judge", rewardModel.toString());
            doc.put("tie_margin", tieMargin);
            doc.put("seed", seed);
            doc.put("prompts", r.prompts());
            doc.put("win_rate", r.winRate());
            doc.put("ci_lower", r.lower());
            doc.put("ci_upper", r.upper());
            doc.put("confidence", r.confidence());
            doc.put("bootstrap_resamples", r.resamples());
            doc.put("bootstrap_sd", r.spread());
            doc.put("wins", r.wins());
            doc.put("losses", r.losses());
            doc.put("ties", r.ties());
            doc.put("tie_share", r.tieShare());
            OutputFolder.writeAtomically(output, JSON.writeValueAsString(doc) + "\n");
        }
        return 0;
    }
}
