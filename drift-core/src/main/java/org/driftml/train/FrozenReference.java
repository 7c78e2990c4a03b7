package org.driftml.train;

import java.util.List;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.driftml.model.internal.Decoder;

/** A frozen model (the initial policy or a snapshot of it) scored without a graph, batch by batch. */
public final class FrozenReference extends ReferencePolicy {
    private final Decoder model;

    public FrozenReference(Decoder model) {
        this.model = model;
    }

    @Override
    Device device() {
        return model.device();
    }

    @Override
    DpoLoss.Scores score(PreferenceBatch batch, List<Integer> pairIndices) {
        NoGradGuard noGrad = new NoGradGuard();
        try {
            DpoLoss.Scores s = DpoLoss.score(model.hiddenStates(batch.inputIds(), null, null),
                    model.lmHead(), batch);
            return new DpoLoss.Scores(s.logps().detach(), s.tokens());
        } finally {
            noGrad.close();
        }
    }
}
