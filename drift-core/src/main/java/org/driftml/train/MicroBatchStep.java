package org.driftml.train;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.SequenceLogps;
import org.driftml.model.internal.CheckpointedForward;
import org.driftml.model.internal.Decoder;

/**
 * One micro-batch of a DPO step: the policy's forward (checkpointed or not), the fused log-probs, the reference's,
 * Eq. 2's loss weighed by the micro-batch's share of the batch, and its backward, telling the optimiser as each
 * layer's gradients are done. Every call runs in the caller's scope; the token counts add up over the step.
 */
final class MicroBatchStep {
    private final Decoder policy;
    private final ReferencePolicy reference;
    private final DpoConfig config;
    private final long padId;
    private final Optimizer optimizer;
    private final LmHeadGradient lmHeadGradient;  // the lm-head's gradient made at the update, or null
    private long realTokens;
    private long paddedTokens;

    MicroBatchStep(Decoder policy, ReferencePolicy reference, DpoConfig config, long padId, Optimizer optimizer,
            LmHeadGradient lmHeadGradient) {
        this.policy = policy;
        this.reference = reference;
        this.config = config;
        this.padId = padId;
        this.optimizer = optimizer;
        this.lmHeadGradient = lmHeadGradient;
    }

    /**
     * Forward and backward of the pairs {@code ids}, the gradients summed into the weights; returns the metrics
     * weighed by {@code share} (DpoLoss.METRICS, on the device). {@code last}: this rank's last micro-batch of the
     * step.
     */
    Tensor run(List<PairTokenizer.TokenizedPair> pairs, List<Integer> ids, double share, boolean last) {
        List<PairTokenizer.TokenizedPair> chunk = new ArrayList<>();
        ids.forEach(i -> chunk.add(pairs.get(i)));
        PreferenceBatch b = PreferenceBatch.of(chunk, padId, policy.device());
        realTokens += b.realTokens();
        paddedTokens += b.paddedTokens();
        CheckpointedForward layers = config.gradientCheckpointing()
                ? policy.checkpointed(b.inputIds(), null, null) : null;  // right-padded: causal alone
        Tensor hidden = layers != null ? layers.hidden() : policy.hiddenStates(b.inputIds(), null, null);
        Scalar weight = new Scalar(share);
        DpoLoss.Result r;
        if (lmHeadGradient != null) {
            r = lossMakingLmHeadGradientLater(hidden, b, ids, weight);
        } else {
            DpoLoss.Scores scores = DpoLoss.score(hidden, policy.lmHead(), b);
            r = DpoLoss.compute(scores, reference.score(b, ids), ids.size(), config);
            r.loss().mul(weight).backward();
        }
        if (layers != null) {  // the layers, recomputed one at a time, and the embedding
            // Data parallel: ZeRO 2 reduces each finished layer; stages 0 and 1 start its all-reduce (reduce-scatter)
            // in the last micro-batch, overlapping the layers below.
            java.util.function.IntConsumer layerDone = l -> optimizer.layerDone(l, last);
            if (lmHeadGradient != null && policy.config().tieWordEmbeddings()) {
                lmHeadGradient.addEmbeddingRows(b.inputIds(), layers.backwardExceptEmbedding(layerDone));
            } else {
                layers.backward(layerDone);
            }
        }
        optimizer.microBatchDone();
        return r.metrics().mul(weight);
    }

    long realTokens() {
        return realTokens;
    }

    long paddedTokens() {
        return paddedTokens;
    }

    /**
     * One micro-batch's loss and its backward down to the final hidden states, with the lm-head's share of the
     * gradient recorded in the step's {@link LmHeadGradient} rather than made: the log-prob op sees a detached weight (its backward
     * computes dL/dhidden alone), and dL/dlogps is taken at a leaf, from which the optimiser makes the weight's
     * gradient a range at a time (SequenceLogps.weightGradRows). The same loss, dL/dhidden and gradient as
     * {@link DpoLoss#score} and one backward, bit for bit.
     */
    private DpoLoss.Result lossMakingLmHeadGradientLater(Tensor hidden, PreferenceBatch b, List<Integer> ids,
            Scalar share) {
        SequenceLogps.Scores s = SequenceLogps.computeWithLse(hidden, policy.lmHead().detach(), b.targets(),
                b.completionMask(), b.scoredPositions());
        Tensor logps = s.logps().detach().requires_grad_(true);
        DpoLoss.Result r = DpoLoss.compute(new DpoLoss.Scores(logps, s.tokenCounts()), reference.score(b, ids),
                ids.size(), config);
        r.loss().mul(share).backward();
        Tensor gradLogps = logps.grad().defined() ? logps.grad() : torch.zeros_like(logps);
        s.logps().backward(gradLogps, new BoolOptional(), false, new TensorArrayRefOptional());
        lmHeadGradient.addLogits(hidden, b.targets(), b.completionMask(), b.scoredPositions(), s.lse(), gradLogps);
        return r;
    }
}
