package org.driftml.kernels;

import org.bytedeco.javacpp.BytePointer;

/** Run in a fresh JVM by NativeRuntimeDefaultsTest: after NativeRuntime.load(), the C environment's value of each name. */
public final class EnvDefaultsProbe {
    public static void main(String[] args) {
        NativeRuntime.load();
        StringBuilder out = new StringBuilder();
        for (String name : args) {
            BytePointer value = ProcessEnv.getenv(name);
            out.append(name).append('=').append(value == null ? "<unset>" : value.getString()).append(' ');
        }
        System.out.println(out.toString().strip());
    }
}
