/**
 * drift's own plumbing below the model floor, not its API: the safetensors reader and writer and a checkpoint's
 * shards ({@code Checkpoint}, {@code SafetensorsFile}, {@code SafetensorsWriter}, {@code SafetensorsDtype}) and the
 * tensor conversions the engine uses ({@code Tensorsj}). Public only because drift's other packages use them; they
 * change without notice. Load and save models through {@link org.driftml.model.Policy} and {@link
 * org.driftml.model.Decoder}.
 */
package org.driftml.model.internal;
