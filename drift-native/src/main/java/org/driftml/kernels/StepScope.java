package org.driftml.kernels;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * The house rule for native memory: every training step, scoring call or batch of calls runs inside one
 * {@code StepScope}. Every tensor (and other JavaCPP pointer) created inside it is freed when it closes, except
 * those handed to {@link #keep}.
 *
 * <pre>{@code
 * try (StepScope step = StepScope.open()) {
 *     Tensor loss = ...;                 // freed at the end of the step
 *     metrics = step.keep(loss.detach()); // outlives the step; the caller closes it
 * }
 * }</pre>
 *
 * <p>Measured: 600 training steps of a small model held RSS flat at 370-390 MB with a scope per step; without one
 * RSS grew until the garbage collector caught up and steps ran 3x slower. Relying on the GC to free native tensors
 * does not work: the Java heap sees a few bytes per tensor while each may hold megabytes.
 */
public final class StepScope implements AutoCloseable {
    private final PointerScope scope;
    private final PointerScope enclosing;  // the innermost scope when this one opened, or null

    private StepScope() {
        NativeRuntime.load();
        this.enclosing = PointerScope.getInnerScope();
        this.scope = new PointerScope();
    }

    /** Opens a scope on this thread; scopes nest, and pointers attach to the innermost. */
    public static StepScope open() {
        return new StepScope();
    }

    /**
     * Detaches {@code pointer} from this scope so that it survives {@link #close()}; the caller now owns it and must
     * close it or attach it to an outer scope. Returns it for chaining.
     */
    public <P extends Pointer> P keep(P pointer) {
        // detach() drops the reference the scope held; take one for the caller first, or the pointer is freed now.
        pointer.retainReference();
        scope.detach(pointer);
        return pointer;
    }

    /**
     * Moves {@code pointer} from this scope to {@code outer}, which then frees it: for what a loop's step hands to
     * the next step (a generation's growing ids, the last hidden state), so each step's temporaries still go at
     * the end of the step.
     */
    public <P extends Pointer> P moveTo(StepScope outer, P pointer) {
        outer.scope.attach(pointer);  // attach takes a reference, detach drops this scope's
        scope.detach(pointer);
        return pointer;
    }

    /**
     * Moves {@code pointer} to the scope that was innermost when this one opened, which then frees it: what a
     * piece of work returns to its caller, while the work's temporaries go when this scope closes. A decoder
     * layer's output outlives the layer, its intermediates do not (measured: without per-layer scopes, a no-grad
     * forward of Qwen2.5-0.5B's geometry kept every layer's intermediates until the end of the step, 1.3 GB at 512
     * tokens per pair). With no enclosing scope the caller owns it, as {@link #keep}.
     */
    public <P extends Pointer> P handBack(P pointer) {
        if (enclosing == null) {
            return keep(pointer);
        }
        enclosing.attach(pointer);  // attach takes a reference, detach drops this scope's
        scope.detach(pointer);
        return pointer;
    }

    @Override
    public void close() {
        scope.close();
    }
}
