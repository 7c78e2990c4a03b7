package org.driftml.train;

import java.util.List;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.kernels.StepScope;
import org.driftml.model.internal.Tensorsj;
import org.driftml.parallel.ProcessGroup;

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
        return compute(source, pairs, padId, batch, null);
    }

    /**
     * As above, sharded over the ranks of {@code group} (null: one process): rank r scores every world-size-th batch
     * from its place, and a sum over the ranks (each batch scored by one, zeros elsewhere: exact) gives every rank
     * every score. The batches are one process's, so the scores are too, bit for bit.
     */
    public static PrecomputedReference compute(ReferencePolicy source, List<PairTokenizer.TokenizedPair> pairs,
            long padId, int batch, ProcessGroup group) {
        int rank = group == null ? 0 : group.rank(), ranks = group == null ? 1 : group.worldSize();
        try (StepScope all = StepScope.open()) {
            // The vectors hold their elements' references: made in the scope, they release them with it.
            TensorVector c = new TensorVector(), r = new TensorVector(), ct = new TensorVector(), rt = new TensorVector();
            ScalarType[] dtypes = {ScalarType.Float, ScalarType.Float};  // of the scores (fp64 for an fp64 model)
            for (int start = 0, k = 0; start < pairs.size(); start += batch, k++) {
                try (StepScope step = StepScope.open()) {
                    int n = Math.min(batch, pairs.size() - start);
                    if (k % ranks != rank) {  // another rank's batch: zeros here, in fp64 (exact for every count)
                        Tensor zeros = torch.zeros(new long[] {n}, Tensorsj.options(ScalarType.Double,
                                source.device()));
                        for (TensorVector v : List.of(c, r, ct, rt)) {
                            v.push_back(zeros.clone());
                        }
                        continue;
                    }
                    PreferenceBatch b = PreferenceBatch.of(pairs.subList(start, start + n), padId, source.device());
                    DpoLoss.Scores s = source.score(b, List.of());
                    dtypes[0] = s.logps().scalar_type();
                    dtypes[1] = s.tokens().scalar_type();
                    // The vectors hold their own references: the step's Java handles can go with the step.
                    c.push_back(widen(s.logps().narrow(0, 0, n), group).clone());
                    r.push_back(widen(s.logps().narrow(0, n, n), group).clone());
                    ct.push_back(widen(s.tokens().narrow(0, 0, n), group).clone());
                    rt.push_back(widen(s.tokens().narrow(0, n, n), group).clone());
                }
            }
            Tensor[] parts = {torch.cat(c), torch.cat(r), torch.cat(ct), torch.cat(rt)};
            if (group != null) {
                for (int i = 0; i < parts.length; i++) {
                    group.allreduceSum(parts[i]);
                    parts[i] = parts[i].to(dtypes[i < 2 ? 0 : 1]);
                }
            }
            return new PrecomputedReference(all.keep(parts[0]), all.keep(parts[1]), all.keep(parts[2]),
                    all.keep(parts[3]));
        }
    }

    /** A score as the sum over ranks takes it: fp64 (exact for log-probs of any dtype here and token counts). */
    private static Tensor widen(Tensor t, ProcessGroup group) {
        return group != null ? t.to(ScalarType.Double) : t;
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
