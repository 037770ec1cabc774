/** Lanes core: batched multi-query attention and residual stacks with hand-written backward passes. */
module dev.lanes.core {
    exports dev.lanes.core;
    exports dev.lanes.core.attention;
    exports dev.lanes.core.io;
    exports dev.lanes.core.nn;
    exports dev.lanes.core.text;
    requires transitive dev.lanes.kernels;
}
