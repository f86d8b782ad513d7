#include "worker/errc.h"

SLUICE_ERRC_CATEGORY(sluice::worker, "worker", case errc::bad_event
                     : return "not a bucket event";
                     case errc::bad_argument
                     : return "bad argument";
                     case errc::undecodable
                     : return "not a decodable image";
                     case errc::too_large
                     : return "object too large";
                     case errc::unsupported
                     : return "unsupported";
                     case errc::image_error
                     : return "image processing failed";
                     case errc::kafka_error
                     : return "Kafka client error";
                     case errc::command_failed
                     : return "command failed";
                     case errc::timeout
                     : return "timed out";
                     case errc::io_error
                     : return "I/O error";
                     case errc::stopped
                     : return "stopping";)
