/**
 * drift's own plumbing for JSON Lines, not its API: strict UTF-8 lines ({@code Utf8Lines}), one JSON value per line
 * ({@code JsonLine}), a journal appended to as work finishes ({@code AppendLog}) and SHA-256 digests ({@code
 * Sha256}). Public only because drift's readers, evaluation and command line share them; they change without notice.
 * Read records through {@link org.driftml.data.PreferencePairs} and the log readers.
 */
package org.driftml.data.internal;
