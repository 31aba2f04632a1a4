"""Real servers, faults, hostile stores, processes, real installs and the original pipper."""
