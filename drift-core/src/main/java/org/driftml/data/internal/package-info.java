/**
 * drift's own plumbing for reading JSON Lines, not its API: strict UTF-8 lines ({@code Utf8Lines}) and one JSON value
 * per line ({@code JsonLine}). Public only because drift's readers and command line share them; they change without
 * notice. Read records through {@link org.driftml.data.PreferencePairs} and the log readers.
 */
package org.driftml.data.internal;
