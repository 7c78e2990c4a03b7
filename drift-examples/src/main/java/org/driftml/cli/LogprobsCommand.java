package org.driftml.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.driftml.model.spec.ComputeDevice;
import org.driftml.model.spec.Precision;
import org.driftml.model.Policy;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code drift logprobs}: how likely a model finds a completion, scored with the fused log-prob op. */
@Command(name = "logprobs", mixinStandardHelpOptions = true,
        description = {"Summed log-probability of the tokens from completion_start on, one JSON object per line:",
                "  in  {\"input_ids\": [...], \"completion_start\": k}",
                "  out {\"logp\": sum over t >= k of log p(ids[t] | ids[<t]), \"tokens\": count}",
                "completion_start defaults to 1 (every token after the first)."})
final class LogprobsCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model folder")
    Path model;

    @Option(names = "--dtype", defaultValue = "float32", paramLabel = "float32|bfloat16",
            description = "Compute dtype (default: ${DEFAULT-VALUE})")
    String dtype;

    @Mixin
    DeviceOption device = new DeviceOption();

    @Mixin
    AdapterOption adapter = new AdapterOption();

    InputStream input = System.in;

    @Override
    public Integer call() throws Exception {
        ComputeDevice on = device.resolve(spec.commandLine().getErr(), "drift logprobs");
        if (on == null) {
            return 2;
        }
        Policy policy = Policy.loadWeights(model, Precision.DTYPE.parse(dtype), on);
        if (!adapter.attach(policy, spec.commandLine().getErr(), "drift logprobs")) {
            return 2;
        }
        long vocab = policy.config().vocabSize();
        int positions = policy.config().maxPositionEmbeddings();
        int failed = JsonLines.run(input, spec.commandLine().getOut(), spec.commandLine().getErr(), (in, json) -> {
            long[] ids = JsonLines.ids(in, "input_ids", vocab, positions);
            JsonNode startNode = in.get("completion_start");
            if (startNode != null && (!startNode.isIntegralNumber() || !startNode.canConvertToInt())) {
                throw new JsonLines.BadLine("\"completion_start\" must be an integer, got " + startNode);
            }
            int start = startNode == null ? 1 : startNode.asInt();
            if (ids.length < 2) {
                throw new JsonLines.BadLine("input_ids needs at least 2 tokens to score one");
            }
            if (start < 1 || start >= ids.length) {
                throw new JsonLines.BadLine("completion_start " + start + " must be in [1, " + ids.length + ")");
            }
            double logp = policy.completionLogprob(ids, start);
            if (!Double.isFinite(logp)) {
                // A NaN here is the model's, not the line's: report it rather than print "NaN" with exit 0.
                throw new IllegalStateException("the model scored " + logp + ": its weights hold NaN or infinite "
                        + "values (check the checkpoint in " + model + ")");
            }
            return json.createObjectNode().put("logp", logp).put("tokens", ids.length - start);
        });
        return failed == 0 ? 0 : 1;
    }
}
