package org.driftml.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.driftml.output.Progress;
import org.driftml.data.internal.Sha256;
import org.driftml.eval.BenchmarkOutputs;
import org.driftml.eval.EvalPrompts;
import org.driftml.eval.Replies;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.Policy;
import org.driftml.model.spec.Precision;
import org.driftml.model.Sampler;
import org.driftml.output.OutputConflictException;
import org.driftml.output.RunFolder;
import org.driftml.text.ChatMessage;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code drift eval generate}: a model's replies to a prompt set, in the benchmarks' formats. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Reply to every prompt of --prompts (AlpacaEval's alpaca_eval.json, WildBench's records, or",
                "JSON Lines with instruction, conversation_input or messages) through the model's chat template,",
                "greedy unless --temperature or --top-p is given, --batch prompts at a time, up to each benchmark's own",
                "limit of new tokens (WildBench 4096, AlpacaEval 2048, others 512). Writes",
                "OUTPUT/model_outputs.json (AlpacaEval: instruction, output, generator, dataset) and",
                "OUTPUT/wildbench.json (WildBench's result format: session_id, chat_history, model_input, output,",
                "generator, configs); replies are journalled in OUTPUT/replies.jsonl, so a rerun resumes. The",
                "summary counts the replies the limit cut."})
final class EvalGenerateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The model folder")
    Path model;

    @Option(names = "--prompts", required = true, paramLabel = "FILE", description = "The prompt set")
    Path prompts;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Where the outputs go")
    Path output;

    @Option(names = "--generator", paramLabel = "NAME",
            description = "The name the outputs carry (default: the model folder's name)")
    String generator;

    @Option(names = "--max-new-tokens", paramLabel = "N", description = {"New-token limit per reply (default: the",
            "benchmark's: 4096 for WildBench records, as its v2 scripts; 2048 for AlpacaEval's, as alpaca_eval's",
            "local-model configs; 512 otherwise)"})
    Integer maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T", description = "Sample at this temperature (default: greedy)")
    Double temperature;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling mass (implies sampling)")
    Double topP;

    @Option(names = "--batch", defaultValue = "8", paramLabel = "N", description = "Prompts per batch (default: 8)")
    int batch;

    @Option(names = "--max-prompts", paramLabel = "P", description = "Use the first P prompts (default: all)")
    Integer maxPrompts;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Sampling seed (default: 0)")
    long seed;

    @Option(names = "--dtype", defaultValue = "float32", paramLabel = "float32|bfloat16",
            description = "Compute precision (default: ${DEFAULT-VALUE})")
    String dtype;

    @Mixin
    DeviceOption device = new DeviceOption();

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr(), out = spec.commandLine().getOut();
        List<EvalPrompts.EvalPrompt> set;
        Sampler.Settings settings;
        Precision precision;
        ComputeDevice on;
        RunFolder.Claim folder;
        String name;
        int limit;
        try {
            ExploreCommand.modelFolder("--model", model);
            if (batch < 1 || (maxPrompts != null && maxPrompts < 1)) {
                throw new IllegalArgumentException("--batch and --max-prompts must be >= 1");
            }
            if (maxNewTokens != null && maxNewTokens < 1) {
                throw new IllegalArgumentException("--max-new-tokens must be >= 1, got " + maxNewTokens);
            }
            precision = Precision.DTYPE.parse(dtype);
            set = EvalPrompts.read(prompts);
            if (maxPrompts != null && set.size() > maxPrompts) {
                set = set.subList(0, maxPrompts);
            }
            limit = maxNewTokens != null ? maxNewTokens : EvalPrompts.Benchmark.of(set).maxNewTokens();
            int positions = org.driftml.model.Policy.checkFolder(model).maxPositionEmbeddings();
            if (maxNewTokens != null && limit >= positions) {  // a KV cache per reply for prompt + limit: 10^6 taken
                throw new IllegalArgumentException("--max-new-tokens " + limit + " leaves no room for a prompt in the "
                        + "model's " + positions + " positions (max_position_embeddings in " + model + ")");
            }
            boolean sample = temperature != null || topP != null;
            settings = new Sampler.Settings(!sample, temperature != null ? temperature : 1.0,
                    topP != null ? topP : 1.0, 0, 1.0, limit, java.util.Set.of(), seed);
            name = generator != null ? generator : model.toAbsolutePath().normalize().getFileName().toString();
            on = device.resolve();
            folder = RunFolder.at(output).by("drift eval generate").apartFrom(model, "--model folder").checkApart();
        } catch (IllegalArgumentException | IllegalStateException e) {
            err.println("drift eval generate: " + SettingOptions.message(e));
            err.flush();
            return 2;
        }
        Map<String, Object> identity = new LinkedHashMap<>();
        identity.put("model", model.toAbsolutePath().normalize().toString());
        identity.put("prompts", Sha256.hex(set.toString()));
        identity.put("settings", settings.greedy() ? "greedy" : settings.temperature() + "/" + settings.topP()
                    + "/" + seed);
        identity.put("max_new_tokens", limit);
        identity.put("batch", batch);
        identity.put("dtype", dtype);
        Replies.Counted counted;
        try (RunFolder run = folder.identity(identity, "model").claim()) {
            try (Policy policy = Policy.load(model, precision, on)) {
                Sampler.Settings s = settings.withStopIds(policy.endIds());
                List<List<ChatMessage>> conversations = set.stream().map(EvalPrompts.EvalPrompt::messages).toList();
                List<String> replies = new ArrayList<>();
                counted = Replies.generateCounted(policy, conversations, 1, s, batch, output.resolve("replies.jsonl"),
                        Progress.printing(System.err));
                counted.replies().forEach(r -> replies.add(r.get(0)));
                List<String> inputs = conversations.stream().map(c -> policy.template().render(c, true)).toList();
                BenchmarkOutputs.writeAlpacaEval(output.resolve("model_outputs.json"), set, replies, name);
                BenchmarkOutputs.writeWildBench(output.resolve("wildbench.json"), set, replies, inputs, name, s);
            }
            out.printf("%d replies by %s, %d cut at the %d-token limit%s: wrote %s and %s%n", set.size(), name,
                    counted.atLimit(), limit, counted.unknown() > 0 ? " (" + counted.unknown() + " journalled before "
                    + "the limit was recorded, not counted)" : "", output.resolve("model_outputs.json"),
                    output.resolve("wildbench.json"));
            out.flush();
            return 0;
        } catch (OutputConflictException e) {
            err.println("drift eval generate: " + e.getMessage());
            err.flush();
            return 2;
        }
    }
}
