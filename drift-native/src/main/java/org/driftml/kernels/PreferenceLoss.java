package org.driftml.kernels;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * The fused preference loss of DRIFT's update (the paper's Eq. 2, DPO) and the variants TRL's DPOTrainer offers.
 *
 * <p>With z = (log pi(y+|x) - log pi(y-|x)) - (log ref(y+|x) - log ref(y-|x)), the summed sequence log-probs of
 * policy and reference, one native loop computes each pair's loss, the rewards TRL logs and dLoss/dz; the backward
 * pass is closed-form (see preference_loss_math.h for every formula and its source).
 */
public final class PreferenceLoss {
    /** The loss applied to the margin z; names and formulas follow TRL's {@code loss_type}. */
    public enum Type {
        /** DPO: -log sigmoid(beta z), with optional cDPO label smoothing. */
        SIGMOID(0),
        /** IPO: (z - 1/(2 beta))^2, beta playing IPO's tau; feed it length-averaged log-probs, as TRL does. */
        IPO(1),
        /** SLiC hinge: max(0, 1 - beta z). */
        HINGE(2),
        /** Robust DPO: unbiased under a label-flip rate equal to the label smoothing. */
        ROBUST(3);

        private final long code;

        Type(long code) {
            this.code = code;
        }

        /** Parses TRL's spelling ("sigmoid", "ipo", "hinge", "robust"). */
        public static Type parse(String name) {
            for (Type t : values()) {
                if (t.name().equalsIgnoreCase(name)) {
                    return t;
                }
            }
            throw new IllegalArgumentException(
                    "unknown preference loss '" + name + "': expected one of sigmoid, ipo, hinge, robust");
        }
    }

    /**
     * Per-pair outputs, each [B]. {@code loss} carries the gradient; the rewards are beta times the policy/reference
     * log-ratio of each response, detached, as TRL reports them (rewards/chosen, rewards/rejected).
     */
    public record Output(Tensor loss, Tensor chosenRewards, Tensor rejectedRewards) {}

    private PreferenceLoss() {}

    /**
     * @param policyChosen      [B] summed log pi(y+|x), floating point
     * @param policyRejected    [B] summed log pi(y-|x)
     * @param referenceChosen   [B] summed log ref(y+|x)
     * @param referenceRejected [B] summed log ref(y-|x)
     * @param beta              the KL strength, > 0 (DRIFT's recipe: 0.1)
     * @param type              the loss
     * @param labelSmoothing    in [0, 0.5): cDPO/robust label-noise rate; 0 for plain DPO
     * @throws RuntimeException naming the offending tensor when shapes, dtypes or devices disagree
     */
    public static Output compute(Tensor policyChosen, Tensor policyRejected, Tensor referenceChosen,
            Tensor referenceRejected, double beta, Type type, double labelSmoothing) {
        try (TensorVector out = DriftNative.preference_loss(policyChosen, policyRejected, referenceChosen,
                referenceRejected, beta, type.code, labelSmoothing)) {
            // get(i) is a reference into the vector; each output is copied out as its own tensor handle.
            return new Output(new Tensor(out.get(0)), new Tensor(out.get(1)), new Tensor(out.get(2)));
        }
    }

    /** Sigmoid DPO without label smoothing. */
    public static Output dpo(Tensor policyChosen, Tensor policyRejected, Tensor referenceChosen,
            Tensor referenceRejected, double beta) {
        return compute(policyChosen, policyRejected, referenceChosen, referenceRejected, beta, Type.SIGMOID, 0.0);
    }
}
