/**
 * The emulated iommufd: contexts, object table, IOASes and their io_pagetables, page sources.
 *
 * <p><b>Internal.</b> Public classes here exist only because the byte ABI ({@code uapi}) and the
 * typed API ({@code org.iommufd4j}) call them; they carry no compatibility promise.
 *
 * <p>Every semantic check lives here, so both front doors report the same errno in the same order.
 * Section numbers ({@code §3.4}) refer to the behavioural specification of Linux 6.12.
 *
 * <p>Lock order: object table (short, never held while calling out) → IOAS. COPY never holds two
 * IOAS locks at once: it collects the source slices, releases the source, then locks the
 * destination.
 */
package org.iommufd4j.engine;
