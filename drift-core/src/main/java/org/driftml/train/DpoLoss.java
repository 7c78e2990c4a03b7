package org.driftml.train;

import java.util.List;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.PreferenceLoss;
import org.driftml.kernels.SequenceLogps;

/**
 * DRIFT's update, the paper's Eq. 2 (DPO) and its variants, from a batch's hidden states: summed completion
 * log-probs through the fused op (no full-vocabulary logits), then the fused preference loss against the reference's
 * log-probs, plus the optional RPO term (rpo_alpha times the chosen responses' token-level NLL, as TRL adds it).
 */
final class DpoLoss {
    /** Per-sequence scores of a batch: [2B] summed log-probs and [2B] completion token counts. */
    public record Scores(Tensor logps, Tensor tokens) {
        Tensor chosen(int b) {
            return logps.narrow(0, 0, b);
        }

        Tensor rejected(int b) {
            return logps.narrow(0, b, b);
        }
    }

    /** TRL's metrics, in the order of {@link Result#metrics()}. */
    public static final List<String> METRICS = List.of("loss", "rewards/chosen", "rewards/rejected",
            "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected");

    /**
     * The loss to back-propagate and TRL's metrics as one detached fp64 tensor [{@link #METRICS}.size()] on the
     * loss's device: a trainer reads them back once per step, not once per value (on a GPU each read waits).
     */
    public record Result(Tensor loss, Tensor metrics) {}

    private DpoLoss() {}

    public static Scores score(Tensor hidden, Tensor lmHead, PreferenceBatch batch) {
        SequenceLogps.Output out = SequenceLogps.compute(hidden, lmHead, batch.targets(), batch.completionMask(),
                batch.scoredPositions());
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
        NoGradGuard noGrad = new NoGradGuard();
        try {
            Tensor chosen = out.chosenRewards(), rejected = out.rejectedRewards();
            Tensor metrics = torch.stack(new TensorVector(loss.detach(), chosen.mean(), rejected.mean(),
                    chosen.sub(rejected).mean(), chosen.gt(rejected).to(ScalarType.Float).mean(),
                    policy.chosen(pairs).detach().mean(), policy.rejected(pairs).detach().mean()))
                    .to(ScalarType.Double);
            return new Result(loss, metrics);
        } finally {
            noGrad.close();
        }
    }
}
