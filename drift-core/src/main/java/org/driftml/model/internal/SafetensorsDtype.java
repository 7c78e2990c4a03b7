package org.driftml.model.internal;

import org.bytedeco.pytorch.global.torch.ScalarType;

/** The safetensors dtype names drift reads and writes, with their LibTorch types and sizes. */
public enum SafetensorsDtype {
    F64(ScalarType.Double, 8),
    F32(ScalarType.Float, 4),
    BF16(ScalarType.BFloat16, 2),
    F16(ScalarType.Half, 2),
    I64(ScalarType.Long, 8),
    I32(ScalarType.Int, 4),
    I16(ScalarType.Short, 2),
    I8(ScalarType.Char, 1),
    U8(ScalarType.Byte, 1),
    BOOL(ScalarType.Bool, 1);

    private final ScalarType scalarType;
    private final int bytes;

    SafetensorsDtype(ScalarType scalarType, int bytes) {
        this.scalarType = scalarType;
        this.bytes = bytes;
    }

    public ScalarType scalarType() {
        return scalarType;
    }

    public int bytes() {
        return bytes;
    }

    /** The safetensors name for a LibTorch dtype. */
    public static SafetensorsDtype of(ScalarType type) {
        for (SafetensorsDtype d : values()) {
            if (d.scalarType.value == type.value) {
                return d;
            }
        }
        throw new IllegalArgumentException("dtype " + type + " cannot be written to safetensors by drift");
    }

    /** Parses a header's dtype, or null when drift does not know it. */
    static SafetensorsDtype parse(String name) {
        for (SafetensorsDtype d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }
}
