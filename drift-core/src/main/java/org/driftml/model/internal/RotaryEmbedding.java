package org.driftml.model.internal;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.driftml.model.spec.ModelConfig;

/**
 * Rotary position embeddings in Hugging Face's rotate-half convention: dimension i of a head pairs with i + d/2
 * (not with its neighbour, as in the RoFormer paper), and {@code x' = x cos + rotate_half(x) sin}.
 */
final class RotaryEmbedding {
    private final Tensor inverseFrequencies;  // [d/2] fp32

    RotaryEmbedding(ModelConfig.Rope rope, int headDim, Device device) {
        float[] inv = new float[headDim / 2];
        for (int i = 0; i < inv.length; i++) {
            // HF: 1 / base^(arange(0, d, 2) / d), computed in fp32.
            inv[i] = (float) (1.0 / Math.pow(rope.theta(), (2.0 * i) / headDim));
            if (rope.type().equals("llama3")) {
                inv[i] = (float) llama3(inv[i], rope);
            }
        }
        try (FloatPointer p = new FloatPointer(inv)) {
            inverseFrequencies = torch.from_blob(p, new long[] {inv.length}, new TensorOptions(ScalarType.Float))
                    .to(device, ScalarType.Float, false, true, new MemoryFormatOptional());
        }
    }

    /**
     * Llama 3's frequency-dependent scaling (transformers' _compute_llama3_parameters): wavelengths longer than the
     * original context / low_freq_factor are slowed by factor, shorter than context / high_freq_factor are kept,
     * and those between are interpolated.
     */
    static double llama3(double inv, ModelConfig.Rope r) {
        double oldContext = r.originalMaxPositionEmbeddings();
        double lowWavelen = oldContext / r.lowFreqFactor(), highWavelen = oldContext / r.highFreqFactor();
        double wavelen = 2 * Math.PI / inv;
        if (wavelen < highWavelen) {
            return inv;
        }
        if (wavelen > lowWavelen) {
            return inv / r.factor();
        }
        double smooth = (oldContext / wavelen - r.lowFreqFactor()) / (r.highFreqFactor() - r.lowFreqFactor());
        return (1 - smooth) * inv / r.factor() + smooth * inv;
    }

    /** cos and sin for positions [N, T], each [N, 1, T, d] in {@code dtype}, ready to broadcast over heads. */
    Tensor[] cosSin(Tensor positions, ScalarType dtype) {
        Tensor freqs = positions.to(ScalarType.Float).unsqueeze(-1).mul(inverseFrequencies);  // [N, T, d/2]
        Tensor emb = torch.cat(new TensorVector(freqs, freqs), -1).unsqueeze(1);
        return new Tensor[] {emb.cos().to(dtype), emb.sin().to(dtype)};
    }

    /** x [N, H, T, d] rotated by the given cos and sin. */
    static Tensor apply(Tensor x, Tensor cos, Tensor sin) {
        long half = x.size(-1) / 2;
        Tensor rotated = torch.cat(new TensorVector(x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)), -1);
        return x.mul(cos).add(rotated.mul(sin));
    }
}
