package org.driftml.train;

import java.util.List;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Tensorsj;

/**
 * Reference log-probs computed once for a whole dataset, then looked up per batch: training then holds one model,
 * not two (TRL's precompute_ref_log_probs). Values are per pair: summed log-probs and token counts of chosen and
 * rejected.
 */
public final class PrecomputedReference extends ReferencePolicy implements AutoCloseable {
    private final Tensor chosen;      // [P]
    private final Tensor rejected;    // [P]
    private final Tensor chosenTokens;
    private final Tensor rejectedTokens;

    private PrecomputedReference(Tensor chosen, Tensor rejected, Tensor chosenTokens, Tensor rejectedTokens) {
        this.chosen = chosen;
        this.rejected = rejected;
        this.chosenTokens = chosenTokens;
        this.rejectedTokens = rejectedTokens;
    }

    /** Scores every pair with {@code source}, {@code batch} pairs at a time. */
    public static PrecomputedReference compute(ReferencePolicy source, List<PairTokenizer.TokenizedPair> pairs,
            long padId, int batch) {
        try (StepScope all = StepScope.open()) {
            // The vectors hold their elements' references: made in the scope, they release them with it.
            TensorVector c = new TensorVector(), r = new TensorVector(), ct = new TensorVector(), rt = new TensorVector();
            for (int start = 0; start < pairs.size(); start += batch) {
                try (StepScope step = StepScope.open()) {
                    int n = Math.min(batch, pairs.size() - start);
                    PreferenceBatch b = PreferenceBatch.of(pairs.subList(start, start + n), padId, source.device());
                    DpoLoss.Scores s = source.score(b, List.of());
                    // The vectors hold their own references: the step's Java handles can go with the step.
                    c.push_back(s.logps().narrow(0, 0, n).clone());
                    r.push_back(s.logps().narrow(0, n, n).clone());
                    ct.push_back(s.tokens().narrow(0, 0, n).clone());
                    rt.push_back(s.tokens().narrow(0, n, n).clone());
                }
            }
            return new PrecomputedReference(all.keep(torch.cat(c)), all.keep(torch.cat(r)), all.keep(torch.cat(ct)),
                    all.keep(torch.cat(rt)));
        }
    }

    @Override
    public void close() {
        chosen.close();
        rejected.close();
        chosenTokens.close();
        rejectedTokens.close();
    }

    /** Summed log-probs of each pair's chosen response, in pair order. */
    public float[] chosenLogps() {
        return Tensorsj.floats(chosen);
    }

    /** Summed log-probs of each pair's rejected response, in pair order. */
    public float[] rejectedLogps() {
        return Tensorsj.floats(rejected);
    }

    @Override
    Device device() {
        return chosen.device();
    }

    @Override
    DpoLoss.Scores score(PreferenceBatch batch, List<Integer> pairIndices) {
        Tensor idx = Tensorsj.fromLongs(pairIndices.stream().mapToLong(Integer::longValue).toArray(), device());
        return new DpoLoss.Scores(torch.cat(new TensorVector(chosen.index_select(0, idx), rejected.index_select(0, idx))),
                torch.cat(new TensorVector(chosenTokens.index_select(0, idx), rejectedTokens.index_select(0, idx))));
    }
}
