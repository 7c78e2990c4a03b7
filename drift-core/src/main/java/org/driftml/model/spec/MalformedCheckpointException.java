package org.driftml.model.spec;

import java.io.IOException;

/**
 * A model folder's weights are not what a Hugging Face checkpoint must be: a truncated or corrupt safetensors
 * file, a header that contradicts itself, a shard index pointing nowhere. Bad input, not a failure to read: the
 * CLI answers it with exit code 2.
 */
public final class MalformedCheckpointException extends IOException {
    public MalformedCheckpointException(String message) {
        super(message);
    }
}
