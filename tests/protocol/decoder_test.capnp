# Shapes the real schema cannot express but a forged message can: deep nesting and aliased
# data, for the decoder's limits.
@0xd4c1b2a3f5e60718;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("fastgpu::decodertest");

struct Node {
  child @0 :Node;
  value @1 :UInt32;
}

struct Blobs {
  items @0 :List(Data);
}
