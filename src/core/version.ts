/** The gateway's release, as in package.json (a unit test keeps the two equal). */
export const GATEWAY_VERSION = "0.1.0";
/** The wire protocol version this gateway speaks (docs/protocol.md). */
export const PROTOCOL_VERSION = "1.1";
