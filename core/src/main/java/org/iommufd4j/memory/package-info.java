/**
 * The caller's memory, as the emulator sees it: {@link org.iommufd4j.memory.UserMemory} is the only
 * way the engine reads or writes it, and a bad address is an answer (false, then EFAULT), never a
 * crash. {@link org.iommufd4j.memory.ProcessMemory} is a live process's memory, reached through
 * system calls that report faults; {@link org.iommufd4j.memory.SimulatedMemory} is a simulated
 * address space for tests, fuzzing and replay.
 */
package org.iommufd4j.memory;
