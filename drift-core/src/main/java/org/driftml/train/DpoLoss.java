package org.driftml.train;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.driftml.kernels.PreferenceLoss;
import org.driftml.kernels.SequenceLogps;

/**
 * DRIFT's update, the paper's Eq. 2 (DPO) and its variants, from a batch's hidden states: summed completion
 * log-probs through the fused op (no full-vocabulary logits), then the fused preference loss against the reference's
 * log-probs, plus the optional RPO term (rpo_alpha times the chosen responses' token-level NLL, as TRL adds it).
 */
public final class DpoLoss {
    /** Per-sequence scores of a batch: [2B] summed log-probs and [2B] completion token counts. */
    public record Scores(Tensor logps, Tensor tokens) {
        Tensor chosen(int b) {
            return logps.narrow(0, 0, b);
        }

        Tensor rejected(int b) {
            return logps.narrow(0, b, b);
        }
    }

    /** The loss to back-propagate and TRL's metrics (detached values). */
    public record Result(Tensor loss, Map<String, Double> metrics) {}

    private DpoLoss() {}

    public static Scores score(Tensor hidden, Tensor lmHead, PreferenceBatch batch) {
        SequenceLogps.Output out = SequenceLogps.compute(hidden, lmHead, batch.targets(), batch.completionMask());
        return new Scores(out.logps(), out.tokenCounts());
    }

    public static Result compute(Scores policy, Scores reference, int pairs, DpoConfig c) {
        Tensor pl = policy.logps(), rl = reference.logps();
        if (c.loss() == PreferenceLoss.Type.IPO) {  // TRL feeds IPO length-averaged log-probs
            pl = pl.div(policy.tokens().clamp_min(new Scalar(1)));
            rl = rl.div(reference.tokens().clamp_min(new Scalar(1)));
        }
        PreferenceLoss.Output out = PreferenceLoss.compute(pl.narrow(0, 0, pairs), pl.narrow(0, pairs, pairs),
                rl.narrow(0, 0, pairs).detach(), rl.narrow(0, pairs, pairs).detach(), c.beta(), c.loss(),
                c.labelSmoothing());
        Tensor loss = out.loss().mean();
        if (c.rpoAlpha() > 0) {
            Tensor nll = policy.chosen(pairs).sum().neg().div(policy.tokens().narrow(0, 0, pairs).sum().clamp_min(
                    new Scalar(1)));
            loss = loss.add(nll.mul(new Scalar(c.rpoAlpha())));
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("loss", loss.item_double());
        m.put("rewards/chosen", out.chosenRewards().mean().item_double());
        m.put("rewards/rejected", out.rejectedRewards().mean().item_double());
        m.put("rewards/margins", out.chosenRewards().sub(out.rejectedRewards()).mean().item_double());
        m.put("rewards/accuracies", out.chosenRewards().gt(out.rejectedRewards()).to(
                org.bytedeco.pytorch.global.torch.ScalarType.Float).mean().item_double());
        m.put("logps/chosen", policy.chosen(pairs).mean().item_double());
        m.put("logps/rejected", policy.rejected(pairs).mean().item_double());
        return new Result(loss, m);
    }
}
