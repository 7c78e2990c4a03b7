package org.driftml.model;

/** What reward models share: a classifier's logits to one score per sequence. */
final class Logits {
    private Logits() {}

    /** Label 0's logit of each sequence: a num_labels = 1 reward model's score. */
    static double[] labelZero(float[][] logits) {
        double[] out = new double[logits.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = logits[i][0];
        }
        return out;
    }
}
