package org.driftml.model;

import org.bytedeco.pytorch.Generator;

/** A sequence in a {@link ContinuousBatcher}'s running batch: its slot's chooser, its generator, where it stands. */
final class RunningSequence {
    final ContinuousBatcher.Request request;
    final int pool;               // which chooser and ids buffer it uses
    final TokenChooser chooser;   // the slot's buffers with this sequence's settings and generator
    final Generator generator;
    long length;                  // positions cached
    long pending;                 // the token chosen last, fed at the next decode
    int produced;

    RunningSequence(ContinuousBatcher.Request request, int pool, TokenChooser chooser, Generator generator) {
        this.request = request;
        this.pool = pool;
        this.chooser = chooser;
        this.generator = generator;
    }
}
