#include "events/errc.h"

SLUICE_ERRC_CATEGORY(sluice::events, "events", case errc::invalid_argument
                     : return "invalid argument";
                     case errc::malformed_xml
                     : return "malformed notification configuration";
                     case errc::arn_not_found
                     : return "destination ARN not configured or not well-formed";
                     case errc::arn_wrong_region
                     : return "destination ARN in another region";
                     case errc::unsupported_event
                     : return "event name not supported for notifications";
                     case errc::filter_name_invalid
                     : return "filter rule name must be either prefix or suffix";
                     case errc::filter_value_invalid
                     : return "invalid filter rule value";
                     case errc::filter_duplicate_prefix
                     : return "more than one prefix rule in a filter";
                     case errc::filter_duplicate_suffix
                     : return "more than one suffix rule in a filter";
                     case errc::overlap_events
                     : return "the same event twice in one configuration";
                     case errc::overlap_filters
                     : return "two identical queue configurations";
                     case errc::unsupported_notification
                     : return "only queue configurations are supported";
                     case errc::outbox_full
                     : return "event outbox full";
                     case errc::io_error
                     : return "event outbox I/O error";
                     case errc::closed
                     : return "notifier stopped";
                     case errc::bad_config
                     : return "invalid target configuration";
                     case errc::unknown_target
                     : return "no such notification target";
                     case errc::target_error
                     : return "target delivery failed";)
