package org.driftml.output;

import java.nio.file.Path;

/** A second process for {@link OutputLockTest}: takes the folder, says so, and holds it until stdin closes. */
public final class OutputLockProbe {
    private OutputLockProbe() {}

    public static void main(String[] args) throws Exception {
        try (OutputLock lock = OutputLock.acquire(Path.of(args[0]), "probe")) {
            System.out.println("held " + ProcessHandle.current().pid());
            System.out.flush();
            while (System.in.read() >= 0) {
                // hold until the test closes our stdin (or kills us)
            }
        }
        System.out.println("released");
    }
}
