package org.iommufd4j.engine;

/**
 * The fault fd of FAULT_QUEUE_ALLOC (fault.c: iommufd_fault_alloc()). While open it holds a
 * reference on its FAULT object (DESTROY of it is EBUSY) and on the context's file (main.c:
 * iommufd_fops_release()).
 */
final class FaultFile implements EmulatedFile {
  private final Context ctx;
  private final FaultObject fault;
  private boolean released;

  /** Takes both references. */
  FaultFile(Context ctx, FaultObject fault) {
    this.ctx = ctx;
    this.fault = fault;
    ctx.getFile();
    ctx.table.addUser(fault);
    fault.fileOpen = true;
  }

  @Override
  public long read(Caller caller, long buffer, long count) {
    return fault.read(caller.memory(), buffer, count);
  }

  @Override
  public long write(Caller caller, long buffer, long count) {
    return fault.write(caller.memory(), buffer, count);
  }

  @Override
  public boolean readable() {
    return fault.pendingCount() > 0;
  }

  @Override
  public void onReadable(Runnable listener) {
    fault.onReport(listener);
  }

  @Override
  public void release() {
    synchronized (this) {
      if (released) {
        return;
      }
      released = true;
    }
    fault.fileOpen = false;
    ctx.table.removeUser(fault);
    ctx.putFile();
  }
}
