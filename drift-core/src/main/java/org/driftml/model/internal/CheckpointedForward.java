package org.driftml.model.internal;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.driftml.kernels.StepScope;

/**
 * Activation (gradient) checkpointing without a custom autograd function: the forward runs without a graph and keeps
 * only each layer's input [N, T, D]; {@link #hidden()} is the final norm of a leaf, so the loss's own backward stops
 * there; {@link #backward()} then walks the layers in reverse, recomputing each one with a graph and back-propagating
 * through it alone. Peak activation memory falls from every layer's intermediates to one layer's plus L inputs, for
 * one extra forward of compute (DRIFT's released configs train with gradient checkpointing on).
 *
 * <pre>{@code
 * CheckpointedForward f = policy.checkpointed(ids, mask, null);
 * Tensor loss = lossOf(f.hidden());
 * loss.backward();   // gradients down to the last layer's output (and the final norm's weight)
 * f.backward();      // the rest: every layer, then the embedding
 * }</pre>
 */
public final class CheckpointedForward {
    private final Decoder decoder;
    private final Tensor inputIds;
    private final Tensor[] cosSin;
    private final Tensor mask;
    private final List<Tensor> layerInputs = new ArrayList<>();
    // With LoRA dropout in training: the device generator's state before each layer, so that the recompute draws
    // the masks the forward drew (torch.utils.checkpoint's preserve_rng_state).
    private final Generator generator;
    private final List<Tensor> rngStates = new ArrayList<>();
    private final Tensor lastOutput;  // a leaf: the loss's backward deposits its gradient here
    private final Tensor hidden;

    CheckpointedForward(Decoder decoder, Tensor inputIds, Tensor attentionMask, Tensor positionIds) {
        this.decoder = decoder;
        this.inputIds = inputIds;
        long n = inputIds.size(0), t = inputIds.size(1);
        this.cosSin = decoder.rotary(decoder.positions(positionIds, n, t));
        this.mask = decoder.maskFor(attentionMask, n, t, 0);
        boolean dropout = decoder.adapters() != null && decoder.adapters().dropsOut();
        this.generator = dropout ? torch.globalContext().defaultGenerator(decoder.device()) : null;
        Tensor x;
        NoGradGuard noGrad = new NoGradGuard();
        try {
            x = decoder.embed(inputIds);
            for (int l = 0; l < decoder.config().numHiddenLayers(); l++) {
                layerInputs.add(x);
                if (generator != null) {
                    rngStates.add(generator.get_state());
                }
                // Only the layer's output stays: its intermediates would otherwise live to the end of the step,
                // which is what checkpointing exists to avoid.
                try (StepScope scope = StepScope.open()) {
                    x = scope.handBack(decoder.layer(l, x, cosSin, mask, null));
                }
            }
        } finally {
            noGrad.close();
        }
        this.lastOutput = x.detach().requires_grad_(true);
        this.hidden = decoder.finalNorm(lastOutput);
    }

    /** Final hidden states [N, T, D], differentiable down to the last layer's output. */
    public Tensor hidden() {
        return hidden;
    }

    /**
     * Back-propagates from the last layer's output (whose gradient the loss's backward left there) through every
     * layer and the embedding, accumulating into the weights' gradients. Call once, after the loss's backward: it
     * frees the layers' inputs as it goes.
     */
    public void backward() {
        backward(l -> {});
    }

    /**
     * As above, calling {@code layerDone} with each layer's index once its weights' gradients are complete (last
     * layer first): a caller may reduce them across ranks while the layers below are recomputed.
     */
    public void backward(java.util.function.IntConsumer layerDone) {
        try (StepScope scope = StepScope.open()) {
            decoder.embedBackward(inputIds, backwardExceptEmbedding(layerDone));
        }
    }

    /**
     * As {@link #backward(java.util.function.IntConsumer)}, but the embedding's gradient is returned rather than
     * added: [N, T, D], row (n, t) belonging to token {@code inputIds[n, t]}, in the caller's scope. For a caller
     * that holds a tied embedding's gradient in another form (the trainer's lm-head gradient, made a range at a
     * time at the update).
     */
    public Tensor backwardExceptEmbedding(java.util.function.IntConsumer layerDone) {
        if (!lastOutput.grad().defined()) {
            throw new IllegalStateException("no gradient reached hidden(): call backward() on a loss of it first");
        }
        try (StepScope all = StepScope.open()) {
            // One gradient [N, T, D] alive at a time, and each layer's input freed once its layer is done: kept to
            // the end, both grow with the layers (2 x 24 x 0.9 MB per 256 tokens at Qwen2.5-0.5B's geometry).
            Tensor grad = new Tensor(lastOutput.grad());
            lastOutput.mutable_grad().reset();
            Tensor after = generator != null ? generator.get_state() : null;  // the stream goes on from here
            for (int l = layerInputs.size() - 1; l >= 0; l--) {
                try (StepScope step = StepScope.open()) {
                    if (generator != null) {
                        generator.set_state(rngStates.get(l));
                    }
                    Tensor x = layerInputs.get(l).detach().requires_grad_(true);
                    layerInputs.get(l).put(new Tensor());  // x holds it until this layer is done
                    Tensor y = decoder.layer(l, x, cosSin, mask, null);
                    y.backward(grad, new BoolOptional(), false, new TensorArrayRefOptional());
                    grad.put(x.grad().detach());
                }
                layerDone.accept(l);
            }
            if (generator != null) {
                generator.set_state(after);
            }
            return all.handBack(grad);
        }
    }
}
