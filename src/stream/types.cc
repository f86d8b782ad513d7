#include "stream/types.h"

SLUICE_ERRC_CATEGORY(sluice::stream, "stream", case errc::stream_not_found
                     : return "stream not found";
                     case errc::stream_fenced
                     : return "stream fenced by a newer owner epoch";
                     case errc::stream_not_open
                     : return "stream not open";
                     case errc::offset_out_of_range
                     : return "offset out of range";
                     case errc::object_not_found
                     : return "object not found";
                     case errc::corrupt
                     : return "data failed validation";
                     case errc::wal_full
                     : return "write-ahead log full";
                     case errc::cache_full
                     : return "log cache full";
                     case errc::record_too_large
                     : return "record too large";
                     case errc::io_error
                     : return "I/O error";
                     case errc::storage_error
                     : return "object storage error";
                     case errc::meta_error
                     : return "metadata store error";
                     case errc::closed
                     : return "closed";
                     case errc::bad_argument
                     : return "bad argument";
                     case errc::timeout
                     : return "timed out";)
