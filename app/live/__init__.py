"""Live graphs: the manager the routes call, sessions and their snapshots, the registry of
graphs in memory, patches, the event bus and the follower stream, the layout, editing and
spec building."""
