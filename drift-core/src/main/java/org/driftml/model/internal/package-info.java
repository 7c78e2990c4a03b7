/**
 * The model's engine and drift's own plumbing below it, not its API: the decoder on LibTorch tensors ({@code
 * Decoder}, its KV cache, rotary embedding and checkpointed forward), the sequence classifier a reward model wraps,
 * the safetensors reader and writer and a checkpoint's shards ({@code Checkpoint}, {@code SafetensorsFile}, {@code
 * SafetensorsWriter}, {@code SafetensorsDtype}), and the tensor conversions ({@code Tensorsj}, {@code Torch}). These
 * signatures carry the JavaCPP presets' types ({@code org.bytedeco.pytorch.Tensor}, {@code ScalarType}, {@code
 * Device}). Public only because drift's other packages use them; they change without notice. Load, generate, score,
 * train and save through {@link org.driftml.model.Policy}, {@link org.driftml.train.DpoTrainer#train} and {@link
 * org.driftml.drift.DriftTrainer}.
 */
package org.driftml.model.internal;
