#include "objstore/erasure/errc.h"

SLUICE_ERRC_CATEGORY(sluice::objstore::erasure, "erasure",
                     case errc::bad_geometry : return "bad erasure geometry";
                     case errc::bad_argument : return "bad argument";
                     case errc::too_few_shards : return "too few shards to reconstruct";
                     case errc::bitrot_mismatch : return "bitrot checksum mismatch";
                     case errc::truncated_shard : return "shard file truncated";
                     case errc::bad_ellipsis : return "bad ellipsis pattern";
                     case errc::bad_drive_count : return "bad drive count";
                     case errc::bad_parity : return "bad parity for set size";)
