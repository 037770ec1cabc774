/** Lanes core: batched multi-query attention and residual stacks with hand-written backward passes. */
module dev.lanes.core {
    exports dev.lanes.core;
    exports dev.lanes.core.attention;
    exports dev.lanes.core.nn;
    requires transitive dev.lanes.kernels;
}
