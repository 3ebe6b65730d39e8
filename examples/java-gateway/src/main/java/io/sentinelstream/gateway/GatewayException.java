package io.sentinelstream.gateway;

/** A problem the gateway reports in one line and exits on (bad option, setting or record). */
final class GatewayException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    GatewayException(String message) {
        super(message);
    }

    GatewayException(String message, Throwable cause) {
        super(message, cause);
    }
}
