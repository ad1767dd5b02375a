"""What makes nodes sharing one database a cluster: membership (heartbeats, the master's lease, node
states), the broadcast of changes between nodes, and the master's housekeeping (timers, LOST sweeps,
purges)."""
