//! Configuration: VMware's bootstrap-config, mp-adapter.conf and ccp-adapter.conf, plus ours.
