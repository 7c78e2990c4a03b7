package org.driftml.output;

/**
 * An output folder belongs to another run: another process writes it now, or it holds a run with other settings or
 * data. The run is refused before it writes anything there (the CLI's exit code 2).
 */
public class OutputConflictException extends IllegalStateException {
    public OutputConflictException(String message) {
        super(message);
    }
}
