# The FastGPU wire protocol: every remoted driver call and its reply.
#
# A connection starts with Hello (client) and Welcome (server). Then the client sends batches:
# one frame holds one or more Call messages back to back, in issue order. Calls that CUDA lets
# return early (launches, async copies, memsets, event records, frees, ...) get no reply; their
# errors come back, deferred, in the next Reply. A call that needs an answer ends its batch and
# gets exactly one Reply. Handles are opaque ids of the session's tables; device pointers are
# the server's device addresses.
@0xb3f0699d456d4bf8;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("fastgpu::wire");

const protocolVersion :UInt32 = 1;

struct Hello {
  protocolVersion @0 :UInt32;
  cudaVersion @1 :Int32;      # what the client's driver reports (cuDriverGetVersion)
  host @2 :Text;
  pid @3 :UInt32;
  vgpu @4 :Text;              # the requested vGPU ("" for the default)
  token @5 :Text;
  sharedMemory @6 :Bool;      # move the session onto shared memory if the server can (a client
                              # on the server's host, over a Unix socket or TCP)
  rdma @7 :Bool;              # move the session onto RDMA after the Welcome (an rdma:// URL)
}

struct DeviceInfo {
  name @0 :Text;
  uuid @1 :Data;              # 16 bytes
  totalMemory @2 :UInt64;
  attributes @3 :List(Int32); # indexed by CUdevice_attribute
  pciBusId @4 :Text;
}

struct Welcome {
  protocolVersion @0 :UInt32;
  result @1 :Int32;           # CUDA_SUCCESS, or why the session was refused
  message @2 :Text;
  session @3 :UInt64;
  driverVersion @4 :Int32;
  devices @5 :List(DeviceInfo);
  moduleCache @6 :Bool;       # the server keeps code images: a large one may be asked for by
                              # digest first (codeLoadCached)
  sharedMemory @7 :Bool;      # the segment follows on the socket (SCM_RIGHTS); every later
                              # frame travels through its rings
  sharedHeap @8 :Bool;        # with sharedMemory: the shared heap follows the segment on the
                              # socket; the client's pinned memory comes from it (hostAllocShared)
  sharedMemoryRendezvous @9 :Text;  # with sharedMemory over a connection that cannot carry
                              # descriptors (TCP, TLS): the abstract Unix socket the segment
                              # follows on, once the client sent sharedMemoryNonce there
                              # (protocol/transport/shm_rendezvous.h); "": this connection's socket
  sharedMemoryNonce @10 :Data;  # 32 random bytes
  rdma @11 :Bool;             # the Hello asked for RDMA and the server serves it: both sides now
                              # set up a queue pair over this connection (docs/rdma.md) and
                              # every later frame travels by RDMA; this socket carries nothing
}

struct KernelParam {
  offset @0 :UInt32;
  size @1 :UInt32;
}

struct KernelInfo {
  name @0 :Text;
  handle @1 :UInt64;          # a function id (modules) or kernel id (libraries)
  params @2 :List(KernelParam);
  paramBytes @3 :UInt32;
}

struct Launch {
  function @0 :UInt64;        # a function or kernel id
  grid @1 :List(UInt32);      # x, y, z
  block @2 :List(UInt32);
  sharedBytes @3 :UInt32;
  stream @4 :UInt64;
  params @5 :Data;            # the packed parameter buffer
  perThread @6 :Bool;         # a NULL stream means the per-thread default stream
  attributes @7 :List(LaunchAttribute);
  cooperative @8 :Bool;
}

struct LaunchAttribute {
  id @0 :UInt32;
  value @1 :Data;             # the 64-byte CUlaunchAttributeValue
}

struct Copy {
  dst @0 :UInt64;             # a device address (0 when the destination is the client)
  src @1 :UInt64;             # a device address (0 when the source is the bulk bytes)
  bytes @2 :UInt64;           # host to device: the bulk bytes that follow this message
  data @3 :Data;              # unused (reserved)
  stream @4 :UInt64;
  async @5 :Bool;
  perThread @6 :Bool;
}
# Bulk bytes: a host-to-device Copy is followed in its frame by `bytes` raw bytes, padded to a
# multiple of 8; a Reply with bulkBytes > 0 likewise. Bulk data is never copied into a message.

struct Copy2D {
  dst @0 :UInt64;
  dstPitch @1 :UInt64;
  src @2 :UInt64;
  srcPitch @3 :UInt64;
  width @4 :UInt64;           # bytes per row
  height @5 :UInt64;
  data @6 :Data;              # packed rows, host to device
  toHost @7 :Bool;            # device to host: reply with packed rows
  stream @8 :UInt64;
  async @9 :Bool;
  perThread @10 :Bool;
}

struct Memset {
  dst @0 :UInt64;
  pitch @1 :UInt64;
  value @2 :UInt32;
  elementBytes @3 :UInt8;     # 1, 2 or 4
  width @4 :UInt64;           # elements per row
  height @5 :UInt64;
  stream @6 :UInt64;
  async @7 :Bool;
  perThread @8 :Bool;
}

struct DeviceFlags { device @0 :Int32; flags @1 :UInt32; }
struct LimitValue { limit @0 :UInt32; value @1 :UInt64; }
struct StreamRef { stream @0 :UInt64; perThread @1 :Bool; }
# cuStreamSetAttribute / GetAttribute: one stream attribute (for a get, only its id is read).
struct StreamAttribute { stream @0 :UInt64; perThread @1 :Bool; attribute @2 :LaunchAttribute; }
struct StreamPair { destination @0 :UInt64; source @1 :UInt64; perThread @2 :Bool; }
struct StreamCreate { flags @0 :UInt32; priority @1 :Int32; }
struct StreamWait { stream @0 :UInt64; event @1 :UInt64; flags @2 :UInt32; perThread @3 :Bool; }
struct EventRecord { event @0 :UInt64; stream @1 :UInt64; perThread @2 :Bool; }
struct EventPair { start @0 :UInt64; end @1 :UInt64; }
struct NamedSymbol { owner @0 :UInt64; name @1 :Text; }
struct FuncAttribute { function @0 :UInt64; attribute @1 :Int32; value @2 :Int32; }
struct Occupancy { function @0 :UInt64; blockSize @1 :Int32; sharedBytes @2 :UInt64; flags @3 :UInt32; }
struct SharedOccupancy { function @0 :UInt64; blocks @1 :Int32; blockSize @2 :Int32; }

# A tensor map (TMA descriptor) to encode with the server's driver: the arguments of
# cuTensorMapEncodeTiled / Im2col / Im2colWide, each list as long as the rank asks.
struct TensorMapEncode {
  kind @0 :UInt8;                    # 0 tiled, 1 im2col, 2 im2col wide
  dataType @1 :UInt32;
  rank @2 :UInt32;
  globalAddress @3 :UInt64;
  globalDim @4 :List(UInt64);        # rank
  globalStrides @5 :List(UInt64);    # rank - 1
  boxDim @6 :List(UInt32);           # tiled: rank
  elementStrides @7 :List(UInt32);   # rank
  lowerCorner @8 :List(Int32);       # im2col: rank - 2; wide: 1
  upperCorner @9 :List(Int32);
  channelsPerPixel @10 :UInt32;
  pixelsPerColumn @11 :UInt32;
  interleave @12 :UInt32;
  swizzle @13 :UInt32;
  l2Promotion @14 :UInt32;
  oobFill @15 :UInt32;
  wideMode @16 :UInt32;
}
struct TensorMapAddress { map @0 :Data; address @1 :UInt64; }   # map: 128 bytes

# Virtual memory management (cuMemAddressReserve, cuMemCreate, cuMemMap, ...).
struct VmReserve { size @0 :UInt64; alignment @1 :UInt64; hint @2 :UInt64; }
struct VmRange { address @0 :UInt64; size @1 :UInt64; }
struct VmCreate { device @0 :Int32; size @1 :UInt64; handleTypes @2 :UInt32; }  # CUmemAllocationHandleType bits
struct VmMap { address @0 :UInt64; size @1 :UInt64; offset @2 :UInt64; handle @3 :UInt64; }
struct VmAccess { address @0 :UInt64; size @1 :UInt64; devices @2 :List(Int32); flags @3 :List(UInt32); }
struct VmGranularity { device @0 :Int32; option @1 :UInt32; }

# Stream-ordered allocation. A pool id of 0 names the current pool of the stream's device.
struct PoolAlloc { bytes @0 :UInt64; pool @1 :UInt64; stream @2 :UInt64; perThread @3 :Bool; }
struct PoolFree { address @0 :UInt64; stream @1 :UInt64; perThread @2 :Bool; }
struct PoolOfDevice {
  device @0 :Int32;
  pool @1 :UInt64;
  handleTypes @2 :UInt32;  # memPoolCreate: NONE or POSIX_FILE_DESCRIPTOR (shareable)
}
struct PoolPointer { pool @0 :UInt64; data @1 :Data; }  # an imported pool, a client's 64-byte export
struct PoolValue { pool @0 :UInt64; attribute @1 :UInt32; value @2 :UInt64; }
struct PoolAccess { pool @0 :UInt64; devices @1 :List(Int32); flags @2 :List(UInt32); }

# Stream memory operations (cuStreamWriteValue*, cuStreamWaitValue*, cuStreamBatchMemOp), in order.
struct MemOp {
  kind @0 :UInt8;             # 0 wait, 1 write, 2 flush remote writes
  address @1 :UInt64;
  value @2 :UInt64;
  bytes @3 :UInt8;            # 4 or 8
  flags @4 :UInt32;
}
struct StreamMemOps { stream @0 :UInt64; perThread @1 :Bool; ops @2 :List(MemOp); }

# Stream capture and graphs (DESIGN.md decision 12): graphs and executables are server objects.
# Peer access between the session's devices (client ordinals) and contexts.
struct LinkInput { link @0 :UInt64; type @1 :UInt32; name @2 :Text; data @3 :Data; }  # type: CUjitInputType
struct TextureFormat { device @0 :Int32; format @1 :UInt32; channels @2 :UInt32; }
struct PeerQuery { device @0 :Int32; peer @1 :Int32; attribute @2 :Int32; }  # attribute -1: can access
struct PeerAccess { peer @0 :UInt64; enable @1 :Bool; }                       # the peer context's id

# graph 0: a capture into a new graph; else cuStreamBeginCaptureToGraph, after `dependencies`.
struct CaptureBegin {
  stream @0 :UInt64; perThread @1 :Bool; mode @2 :UInt32;
  graph @3 :UInt64; dependencies @4 :List(UInt64); edgeData @5 :List(UInt64);  # graph_edge_data.h
}
# cuStreamUpdateCaptureDependencies: edgeData empty (default edges) or one per node.
struct CaptureDependencies {
  stream @0 :UInt64; perThread @1 :Bool; nodes @2 :List(UInt64); edgeData @3 :List(UInt64); flags @4 :UInt32;
}
struct GraphInstantiate { graph @0 :UInt64; flags @1 :UInt64; }
# `hostLaunch`: a serial of the client's, not 0 when the graph holds host points (HostPointWait):
# the server marks the launch done in stream order once the replay is over.
struct GraphLaunch { exec @0 :UInt64; stream @1 :UInt64; perThread @2 :Bool; upload @3 :Bool; hostLaunch @4 :UInt32; }
struct GraphUpdate { exec @0 :UInt64; graph @1 :UInt64; }
# A device-to-host copy captured into a staging buffer of the server, read back after replays.
# A device-to-host copy captured into a staging buffer of the server, read after replays. With
# `width`, a band of bytes/width rows of `width` bytes each, `pitch` apart on the device (packed in
# the staging buffer); without, `bytes` back to back.
struct CaptureToHost { src @0 :UInt64; bytes @1 :UInt64; stream @2 :UInt64; perThread @3 :Bool;
                       pitch @4 :UInt64; width @5 :UInt64; }
# `wait` false: read at once (a copy that precedes a host point the replay has reached).
struct StagedRead { staging @0 :UInt64; stream @1 :UInt64; perThread @2 :Bool; wait @3 :Bool = true; }
# A host point: the place in a server graph of host work the client runs (a host function), a
# host node whose function holds the replay there until the client releases it. `point` is the
# client's number for it, reported back when a replay reaches it.
struct CaptureHostPoint { stream @0 :UInt64; perThread @1 :Bool; point @2 :UInt32; }
# Waits until launch `launch` (GraphLaunch.hostLaunch) is done or any replay of the session reaches
# a host point -> values [0, point, instance] (reached: run it, then release the instance) or [1]
# (done).
struct HostPointWait { launch @0 :UInt32; stream @1 :UInt64; perThread @2 :Bool; }
# A host-to-device copy captured from a staging buffer of the server, written before replays.
# (`pitch`, `width`: as CaptureToHost's.)
struct CaptureFromHost { dst @0 :UInt64; bytes @1 :UInt64; stream @2 :UInt64; perThread @3 :Bool;
                         pitch @4 :UInt64; width @5 :UInt64; }
# Host bytes for a staging buffer (the bulk bytes that follow), written once the stream's earlier
# work is done; `wait` false: at once (a copy that follows a host point the replay holds).
struct StagedWrite { staging @0 :UInt64; stream @1 :UInt64; perThread @2 :Bool; bytes @3 :UInt64; wait @4 :Bool = true; }

# An asynchronous device-to-host copy into the client's pinned memory: the server copies into a
# buffer of its own in stream order, and the bytes travel with the first reply after the copy
# completed (a Delivery). `delivery` numbers the session's deliveries 1, 2, 3, ... in order.
struct StagedDelivery { delivery @0 :UInt64; src @1 :UInt64; bytes @2 :UInt64; stream @3 :UInt64; perThread @4 :Bool; }
# A completed delivery in a reply; its bytes follow the reply's own bulk (all deliveries' bytes
# back to back, one bulk). `bytes` is 0 for a copy that failed (its error is deferred).
struct Delivery { delivery @0 :UInt64; bytes @1 :UInt64; }

# A copy between device memory and the client's pinned memory in the shared heap, which the
# server reads or writes itself: no bytes travel. `offset` is the host side's place in the heap.
struct SharedCopy { device @0 :UInt64; offset @1 :UInt64; bytes @2 :UInt64; toHost @3 :Bool; stream @4 :UInt64; perThread @5 :Bool; async @6 :Bool; }

# A copy between device memory and the client's pinned memory over RDMA: the server READs the
# client's bytes (to the device) or WRITEs them (to the host) through the client's registration
# `key` at `address` (in the client's process); no bytes travel in frames. A key or range the
# client did not register breaks its own connection. Done when the call is dispatched: posted
# when async, the bytes are in the client's memory before any later reply.
struct RdmaCopy { device @0 :UInt64; address @1 :UInt64; key @2 :UInt32; bytes @3 :UInt64; toHost @4 :Bool; stream @5 :UInt64; perThread @6 :Bool; async @7 :Bool; }

# Graphs built node by node. Nodes are session ids of their graph; a node's client-side work (a
# host function, a copy from or to the client's memory) is the client's: the server's node keeps
# its place (an empty host function, a copy through a staging buffer).
struct GraphCopy {
  # A 3-D copy between device addresses (offsets folded in), or with one side a staging buffer
  # the server creates (toHost / fromHost: that side is packed, width * height * depth bytes).
  dst @0 :UInt64;
  dstPitch @1 :UInt64;
  dstRows @2 :UInt64;         # rows per slice
  src @3 :UInt64;
  srcPitch @4 :UInt64;
  srcRows @5 :UInt64;
  width @6 :UInt64;           # bytes
  height @7 :UInt64;
  depth @8 :UInt64;
  toHost @9 :Bool;
  fromHost @10 :Bool;
}
struct GraphMemset {
  dst @0 :UInt64; pitch @1 :UInt64; value @2 :UInt32; elementBytes @3 :UInt8;
  width @4 :UInt64; height @5 :UInt64;
}
struct GraphNodeAdd {
  graph @0 :UInt64;
  dependencies @1 :List(UInt64);
  union {
    kernel @2 :Launch;          # no stream
    copy @3 :GraphCopy;         # -> values [node, staging] (staging 0 between device addresses)
    memset @4 :GraphMemset;
    empty @5 :Void;
    host @6 :UInt32;            # a host point (CaptureHostPoint): the client's host function
    eventRecord @7 :UInt64;
    eventWait @8 :UInt64;
    childGraph @9 :UInt64;
    memAlloc @10 :UInt64;       # bytes -> values [node, address] (charged to the quota)
    memFree @11 :UInt64;        # address
  }
}
struct GraphQuery {
  subject @0 :UInt64;         # a graph (nodes, roots, edges) or a node (the others)
  what @1 :What;
  enum What { nodes @0; roots @1; edges @2; type @3; dependencies @4; dependents @5; kernel @6; }
  # kernel: a kernel node's parameters -> values [the node's graph, function or kernel id,
  #   grid x y z, block x y z, shared bytes, parameter bytes, then the parameters 8 bytes a value]
}
struct GraphEdges { graph @0 :UInt64; from @1 :List(UInt64); to @2 :List(UInt64); remove @3 :Bool; }
struct GraphNodeEnabled { exec @0 :UInt64; node @1 :UInt64; set @2 :Bool; enabled @3 :Bool; }  # -> values [enabled]
# A node's parameters read or set (exec 0: in its graph, else in that executable); set: in `value`.
struct GraphNodeParams {
  exec @0 :UInt64; node @1 :UInt64; kind @2 :Kind; set @3 :Bool; value @4 :GraphNodeAdd;
  enum Kind { memset @0; eventRecord @1; eventWait @2; memAlloc @3; memFree @4; memcpy @5; childGraph @6; }
}  # get -> values: memset [dst, pitch, value, element bytes, width, height]; events [event];
   #        memAlloc [address, bytes]; memFree [address];
   #        memcpy [src: memory type, staging, address, pitch, rows; dst: the same; width, height, depth]
   #                (a staged side: its staging buffer's id, address 0; else staging 0 and the address)
   # set memcpy: `value.copy`; a side stays this process's memory or the device's (its staging buffer kept)
   #   -> values [the node's graph, src staging, dst staging]
   # set childGraph (an executable's node only): `value.childGraph`, a graph of the node's graph's shape.
struct GraphFindInClone { node @0 :UInt64; clone @1 :UInt64; }  # a node of the graph `clone` was cloned from
struct CodeUpload {
  offset @0 :UInt64;          # where the part's bytes go in the image
  total @1 :UInt64;           # the whole image's size
  bytes @2 :UInt64;           # the part's size: the bulk bytes that follow the call
}
struct CachedCode {
  digest @0 :Data;            # the image's SHA-256 (protocol/code_digest.h)
  library @1 :Bool;           # load it as a library (cuLibraryLoadData), else as a module
}
struct GraphKernelSet { exec @0 :UInt64; node @1 :UInt64; launch @2 :Launch; }  # exec 0: the graph's node
struct KernelNodeAttribute { node @0 :UInt64; attribute @1 :LaunchAttribute; }
struct NodePair { destination @0 :UInt64; source @1 :UInt64; }

struct Call {
  context @0 :UInt64;         # the calling thread's current context id, 0 for none
  thread @130 :UInt32;        # the calling thread, a serial of the client's (0: unknown): each has its
                              # own per-thread default stream
  union {
    # contexts
    primaryRetain @1 :Int32;              # device -> handle
    primaryRelease @2 :Int32;             # device
    primaryReset @3 :Int32;               # device
    primaryGetState @4 :Int32;            # device -> values [flags, active]
    primarySetFlags @5 :DeviceFlags;
    contextCreate @6 :DeviceFlags;       # -> handle
    contextDestroy @7 :UInt64;
    contextSynchronize @8 :UInt64;        # 0: the current context
    getLimit @9 :UInt32;                  # -> values [value]
    setLimit @10 :LimitValue;
    streamPriorityRange @11 :Void;        # -> values [least, greatest]
    memGetInfo @12 :Void;                 # -> values [free, total]

    # memory
    memAlloc @13 :UInt64;                 # bytes -> handle (the device address)
    memFree @14 :UInt64;
    copy @15 :Copy;                       # device to host replies with data
    copy2D @16 :Copy2D;
    memset @17 :Memset;

    # streams and events
    streamCreate @18 :StreamCreate;       # -> handle
    streamDestroy @19 :UInt64;
    streamQuery @20 :StreamRef;
    streamSynchronize @21 :StreamRef;
    streamWaitEvent @22 :StreamWait;
    eventCreate @23 :UInt32;              # flags -> handle
    eventDestroy @24 :UInt64;
    eventRecord @25 :EventRecord;
    eventQuery @26 :UInt64;
    eventSynchronize @27 :UInt64;
    eventElapsed @28 :EventPair;          # -> values [the float milliseconds' bits]

    # code
    moduleLoad @29 :Data;                 # image bytes -> module
    moduleUnload @30 :UInt64;
    moduleGetGlobal @31 :NamedSymbol;     # -> values [address, bytes]
    libraryLoad @32 :Data;                # -> module (kernels are kernel ids)
    libraryUnload @33 :UInt64;
    libraryGetGlobal @34 :NamedSymbol;
    kernelGetFunction @35 :UInt64;        # -> handle
    funcGetAttribute @36 :FuncAttribute;  # -> values [value]
    funcSetAttribute @37 :FuncAttribute;
    occupancyBlocksPerSm @38 :Occupancy;  # -> values [blocks]
    launch @39 :Launch;
    libraryGetModule @40 :UInt64;         # -> handle
    occupancyDynamicShared @41 :SharedOccupancy;  # -> values [bytes]
    occupancyMaxClusters @42 :Launch;     # no stream or params -> values [clusters]
    occupancyMaxClusterSize @43 :Launch;  # no stream or params -> values [cluster size]
    tensorMapEncode @44 :TensorMapEncode;            # -> data [the 128-byte map]
    tensorMapReplaceAddress @45 :TensorMapAddress;   # -> data [the 128-byte map]
    memAddressReserve @46 :VmReserve;     # -> values [address]
    memAddressFree @47 :VmRange;
    memCreate @48 :VmCreate;              # -> handle (charged to the quota)
    memRelease @49 :UInt64;
    memMap @50 :VmMap;
    memUnmap @51 :VmRange;
    memSetAccess @52 :VmAccess;
    memGranularity @53 :VmGranularity;    # -> values [bytes]
    memPoolDefault @54 :Int32;            # device -> handle
    memPoolCurrent @55 :Int32;            # device -> handle
    memPoolSetCurrent @56 :PoolOfDevice;
    memPoolCreate @57 :PoolOfDevice;      # pool unused, handleTypes -> handle
    memPoolDestroy @58 :UInt64;
    memPoolTrim @59 :PoolValue;           # value: bytes to keep
    memPoolSetAttribute @60 :PoolValue;
    memPoolGetAttribute @61 :PoolValue;   # -> values [value]
    memPoolSetAccess @62 :PoolAccess;
    memPoolGetAccess @63 :PoolOfDevice;   # -> values [flags]
    memAllocAsync @64 :PoolAlloc;         # -> values [address] (charged to the quota)
    memFreeAsync @65 :PoolFree;           # posted
    streamMemOps @66 :StreamMemOps;       # posted
    streamGetId @67 :StreamRef;           # -> values [the driver's stream id]
    streamBeginCapture @68 :CaptureBegin; # -> values [the driver's capture id]
    streamEndCapture @69 :StreamRef;      # -> handle (the captured graph)
    graphInstantiate @70 :GraphInstantiate;  # -> values [the executable, then pairs (host point, the staging
                                             # buffer of a copy to the client before it or from the client after it)]
    graphLaunch @71 :GraphLaunch;         # posted
    graphExecDestroy @72 :UInt64;         # posted
    graphDestroy @73 :UInt64;             # posted
    graphNodeCount @74 :UInt64;           # graph -> values [nodes]
    graphExecUpdate @75 :GraphUpdate;     # -> values [CUgraphExecUpdateResult, then pairs as graphInstantiate's]
    captureToHost @76 :CaptureToHost;     # -> handle (the staging buffer)
    captureHostNode @77 :CaptureHostPoint;  # posted: a host point (a host function the client runs)
    readStaged @78 :StagedRead;           # waits for the stream -> the staging buffer's bytes (bulk)
    captureFromHost @79 :CaptureFromHost; # -> handle (the staging buffer)
    writeStaged @80 :StagedWrite;         # posted, bulk bytes follow
    graphCreate @81 :UInt32;              # flags -> handle
    graphAddNode @82 :GraphNodeAdd;       # -> values [node, staging or address]
    graphQuery @83 :GraphQuery;           # -> values [ids, or from/to/edge-data triples, or type]
    graphEdges @84 :GraphEdges;
    graphClone @85 :UInt64;               # -> handle
    graphDestroyNode @86 :UInt64;         # -> handle (the node's graph)
    graphKernelSet @87 :GraphKernelSet;
    ipcGetMemHandle @88 :UInt64;          # an allocation's base -> data (the client's 64-byte handle)
    ipcOpenMemHandle @89 :Data;           # a client's handle -> values [address, bytes]
    ipcCloseMemHandle @90 :UInt64;        # -> values [openings left]
    peerQuery @91 :PeerQuery;             # -> values [value]
    peerAccess @92 :PeerAccess;
    captureInfo @93 :StreamRef;           # -> values [graph, n, n node ids, n edge data]
    captureDependencies @94 :CaptureDependencies;
    ipcGetEventHandle @95 :UInt64;        # an interprocess event -> data (the client's 64-byte handle)
    ipcOpenEventHandle @96 :Data;         # a client's handle -> handle (an event of the session)
    graphNodeEnabled @97 :GraphNodeEnabled;
    graphNodeParams @98 :GraphNodeParams;
    graphFindInClone @99 :GraphFindInClone;  # -> handle (the node's id in the clone)
    texture1DLinearMaxWidth @100 :TextureFormat;  # -> values [elements]
    linkCreate @101 :Void;                # -> handle (a link in progress)
    linkAddData @102 :LinkInput;
    linkComplete @103 :UInt64;            # -> data (the linked image)
    linkDestroy @104 :UInt64;
    memExport @105 :UInt64;               # a shareable physical allocation -> data (the client's 64-byte handle)
    memImport @106 :Data;                 # a client's handle -> values [allocation, device, bytes]
    vgpuStatus @107 :UInt32;              # a client device ordinal -> values [heldBytes, totalBytes,
                                          # metered, gpuNanos, steadyNanos, then pid, heldBytes per live
                                          # session of the vGPU] (FastGPU's NVML library)
    codeLoadCached @108 :CachedCode;      # -> module, as moduleLoad / libraryLoad; NOT_FOUND: the
                                          # server does not hold the image, send it
    codeUpload @109 :CodeUpload;          # posted, bulk bytes follow: a part of an image too large
                                          # for one frame, in order from offset 0
    codeLoadUploaded @110 :Bool;          # library? -> module: loads the image just uploaded
    stageToHost @111 :StagedDelivery;     # posted: an asynchronous copy into pinned client memory
    collectDeliveries @112 :Bool;         # wait? -> none: a reply to carry completed deliveries;
                                          # with wait, every pending copy is waited for first
    hostAllocShared @113 :UInt64;         # bytes -> values [offset in the shared heap, device
                                          # address (0: none)]: pinned memory the server mapped,
                                          # registered and mapped for the device
    hostFreeShared @114 :UInt64;          # offset -> none, after the device's work (as cuMemFreeHost)
    copyShared @115 :SharedCopy;          # -> none; posted when async
    graphChildGraph @116 :UInt64;         # a child graph node -> values [its graph's id, the id of
                                          # the graph holding the node]: borrowed, for queries only
    copyRdma @117 :RdmaCopy;              # -> none; posted when async (sessions on RDMA only)
    streamSetAttribute @118 :StreamAttribute;  # -> none
    streamGetAttribute @119 :StreamAttribute;  # attribute.id -> data [the 64-byte value]
    streamCopyAttributes @120 :StreamPair;     # -> none
    resetPersistingL2Cache @121 :Void;         # cuCtxResetPersistingL2Cache -> none
    memPoolExport @122 :UInt64;                # a shareable pool -> data (the client's 64-byte handle)
    memPoolImport @123 :Data;                  # a client's handle -> handle (a pool that allocates nothing)
    memPoolExportPointer @124 :UInt64;         # an allocation of a shareable pool -> data (64 bytes)
    memPoolImportPointer @125 :PoolPointer;    # -> values [address, bytes]
    graphKernelSetAttribute @126 :KernelNodeAttribute;  # -> none
    graphKernelGetAttribute @127 :KernelNodeAttribute;  # attribute.id -> data [the 64-byte value]
    graphKernelCopyAttributes @128 :NodePair;           # -> none
    awaitContextWork @129 :Void;  # the current context's work done, as the driver's own waits (cuMemFreeHost)
                                  # await it: no capture of another thread invalidated -> none
    hostPointWait @131 :HostPointWait;   # -> values (see HostPointWait)
    hostPointRelease @132 :UInt64;       # posted: a reached host point's instance goes on
  }
}

struct LoadedModule {
  handle @0 :UInt64;
  kernels @1 :List(KernelInfo);
}

struct Reply {
  result @0 :Int32;           # of the call itself
  message @1 :Text;           # why, when it failed
  deferredError @2 :Int32;    # the first error of asynchronous calls since the last reply
  deferredMessage @3 :Text;
  bulkBytes @9 :UInt64;       # raw bytes that follow this reply in its frame (device-to-host data)
  sessionEnded @10 :Bool;     # the server ended the session (eviction, a time limit, a crash of its
                              # worker, shutdown): `message` says why; nothing follows
  deviceOutput @11 :Data;     # what the session's kernels printed (device printf) since the last
                              # reply: the client writes it to its stdout
  deviceErrors @12 :Data;     # what the driver wrote to stderr meanwhile (failed device asserts):
                              # the client writes it to its stderr
  deliveries @13 :List(Delivery);  # staged copies completed by the time of this reply
  moreDeliveries @14 :Bool;   # completed deliveries did not all fit: ask collectDeliveries
  union {
    none @4 :Void;
    handle @5 :UInt64;
    values @6 :List(Int64);
    data @7 :Data;
    module @8 :LoadedModule;
  }
}
