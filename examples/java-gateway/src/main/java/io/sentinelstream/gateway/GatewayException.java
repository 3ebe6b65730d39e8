package io.sentinelstream.gateway;

/** A problem the gateway reports in one line and exits on, with the exit code it calls for. */
final class GatewayException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    /** A bad option or setting: nothing was produced. */
    static final int USAGE = 2;
    /** A record on decisions or dead-letter that this build cannot read. */
    static final int UNREADABLE = 5;

    final int exitCode;

    GatewayException(String message) {
        this(USAGE, message, null);
    }

    GatewayException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }
}
