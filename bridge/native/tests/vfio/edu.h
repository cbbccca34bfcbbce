/*
 * What edu_cdev.c and edu_group.c share: finding QEMU's edu device (1234:11e8) in sysfs, its
 * register map, a transcript printer, and the device-fd checks both access paths run.
 *
 * Every line printed is one observation in a stable, diffable form ("WHAT args => result
 * outputs"); nothing that varies from run to run (addresses, fd numbers, the BDF, group number
 * or vfio index) is printed as a value. errno is printed by name.
 */
#ifndef IOMMUFD4J_EDU_H
#define IOMMUFD4J_EDU_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

/* edu's BAR0 registers (QEMU docs/specs/edu.rst); 4-byte access below 0x80, 4 or 8 above. */
enum {
  EDU_ID = 0x00,          /* 0xRRrr00ed: major, minor */
  EDU_LIVENESS = 0x04,    /* reads back the bitwise inverse of what was written */
  EDU_FACTORIAL = 0x08,   /* write n, read n! once STATUS_COMPUTING clears */
  EDU_STATUS = 0x20,
  EDU_IRQ_STATUS = 0x24,  /* the OR of the raised values */
  EDU_IRQ_RAISE = 0x60,   /* ORs the value into IRQ_STATUS and interrupts */
  EDU_IRQ_ACK = 0x64,     /* clears the value from IRQ_STATUS */
  EDU_DMA_SRC = 0x80,
  EDU_DMA_DST = 0x88,
  EDU_DMA_COUNT = 0x90,
  EDU_DMA_CMD = 0x98,
};
#define EDU_STATUS_COMPUTING 0x01
#define EDU_STATUS_IRQ_FACTORIAL 0x80
#define EDU_DMA_START 0x01
#define EDU_DMA_TO_RAM 0x02 /* direction: 0 = RAM -> edu, 1 = edu -> RAM */
#define EDU_DMA_IRQ 0x04
#define EDU_DMA_BUFFER 0x40000 /* edu's 4 KiB internal buffer, in its own address space */
#define EDU_DMA_BUFFER_SIZE 4096
#define EDU_IRQ_FACTORIAL_VALUE 0x001
#define EDU_IRQ_DMA_VALUE 0x100

/* Identifies the device; an empty vfio_name means /sys/.../vfio-dev has no entry. */
struct edu_location {
  char bdf[256];       /* "0000:00:03.0" */
  char sysfs[300];     /* /sys/bus/pci/devices/<bdf> */
  char vfio_name[256]; /* "vfio0" */
  char group[256];     /* "1" */
};

/* Finds the single edu device and prints what sysfs says about it; exits when there is none. */
void edu_discover(struct edu_location *loc);

/* errno as "-ENAME". */
const char *err_name(int err);
/* "0", a positive count, or "-ENAME" for rc < 0 (errno). */
const char *result(long rc);
/* "fd" for rc >= 0, else "-ENAME"; for calls that return a descriptor. */
const char *fd_result(long rc);

/* Prints a line and fails the program (exit 1) unless cond holds; for preconditions only. */
void require(bool cond, const char *what);

/* Maps and unmaps IOVA through whichever interface the program uses. */
struct dma_mapper {
  const char *name; /* "IOMMU_IOAS_MAP" or "VFIO_IOMMU_MAP_DMA" */
  int (*map)(void *ctx, void *buffer, uint64_t length, uint64_t iova, bool device_writable);
  /* 0 with *unmapped set, or -1 with errno */
  int (*unmap)(void *ctx, uint64_t iova, uint64_t length, uint64_t *unmapped);
  void *ctx;
};

/* The device-fd checks, in the order the programs run them. */
void check_device_info(int device);
void check_regions(int device);
void check_irq_info(int device);
void check_config(int device);
void check_bar_pread(int device);
void check_bar_mmap(int device);
void check_dma(int device, const struct dma_mapper *mapper, bool with_faults);
void check_msi(int device);
void check_intx(int device);
void check_set_irqs_errors(int device);
void check_reset_and_features(int device);

#endif
