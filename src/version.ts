/**
 * weft's version, as peers see it in identify's agentVersion (`weft/<version>`
 * for the daemon, `weft-relay/<version>` for the relay). A constant rather
 * than a read of package.json at run time, because the built files sit at
 * another depth than the sources; a unit test keeps it equal to package.json.
 */
export const WEFT_VERSION = '0.1.0'

/** identify's agentVersion of a weft node. */
export const WEFT_USER_AGENT = `weft/${WEFT_VERSION}`

/** identify's agentVersion of a weft relay. */
export const WEFT_RELAY_USER_AGENT = `weft-relay/${WEFT_VERSION}`
