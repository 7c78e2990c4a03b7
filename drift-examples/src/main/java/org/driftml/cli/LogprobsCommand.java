package org.driftml.cli;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.SequenceLogps;
import org.driftml.model.ComputeDevice;
import org.driftml.model.Decoder;
import org.driftml.model.Precision;
import org.driftml.model.Tensorsj;
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

    InputStream input = System.in;

    @Override
    public Integer call() throws Exception {
        ComputeDevice on = device.resolve(spec.commandLine().getErr(), "drift logprobs");
        if (on == null) {
            return 2;
        }
        Decoder decoder = Decoder.load(model, Precision.parse(dtype).computeDtype(), on.toTorch());
        long vocab = decoder.config().vocabSize();
        int failed = JsonLines.run(input, spec.commandLine().getOut(), spec.commandLine().getErr(), (in, json) -> {
            long[] ids = JsonLines.ids(in, "input_ids", vocab);
            int start = in.has("completion_start") ? in.get("completion_start").asInt(-1) : 1;
            if (!in.path("completion_start").isMissingNode() && !in.get("completion_start").isIntegralNumber()) {
                throw new JsonLines.BadLine("\"completion_start\" must be an integer");
            }
            if (ids.length < 2) {
                throw new JsonLines.BadLine("input_ids needs at least 2 tokens to score one");
            }
            if (start < 1 || start >= ids.length) {
                throw new JsonLines.BadLine("completion_start " + start + " must be in [1, " + ids.length + ")");
            }
            Tensor all = Tensorsj.fromLongs(ids, decoder.device()).unsqueeze(0);
            long t = ids.length - 1;
            Tensor context = all.narrow(1, 0, t), targets = all.narrow(1, 1, t);
            Tensor hidden = decoder.hiddenStates(context, null, null);  // one unpadded sequence
            // hidden[t] predicts ids[t + 1]: score targets from position start - 1 on.
            Tensor mask = torch.arange(new Scalar(t), Tensorsj.options(ScalarType.Long, decoder.device()))
                    .ge(new Scalar(start - 1)).unsqueeze(0);
            SequenceLogps.Output out = SequenceLogps.compute(hidden, decoder.lmHead(), targets, mask);
            // One read: the log-prob and the count together (the count is below 2^53, exact in fp64).
            double[] read = Tensorsj.doubles(torch.cat(new TensorVector(out.logps().to(ScalarType.Double),
                    out.tokenCounts().to(ScalarType.Double))));
            return json.createObjectNode().put("logp", read[0]).put("tokens", (long) read[1]);
        });
        return failed == 0 ? 0 : 1;
    }
}
