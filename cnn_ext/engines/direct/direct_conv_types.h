/* Names of one element type's kernels and vector operations, given TYPE (f32, f64, f32x8):
 * TYPED(name) is name_TYPE, V(op) the operation TYPE_op, VEC the vector TYPE_vec and LANES its
 * lanes (TYPE_lanes). The files written once over a type (direct_conv_typed.h,
 * winograd_transforms.h) use these names; their includer defines TYPE first. */
#ifndef CNN_EXT_DIRECT_CONV_TYPES_H
#define CNN_EXT_DIRECT_CONV_TYPES_H

#define TYPE_PASTE_(a, b) a##_##b
#define TYPE_PASTE(a, b) TYPE_PASTE_(a, b)
#define TYPED(name) TYPE_PASTE(name, TYPE)
#define V(op) TYPE_PASTE(TYPE, op)
#define VEC V(vec)
#define LANES V(lanes)

#endif
