/** A downstream module using Lanes as a library (the consumer check of lanes-tests). */
module dev.lanes.example {
    requires dev.lanes.core;
}
