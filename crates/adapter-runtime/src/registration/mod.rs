//! Registration of the cluster with NSX (register and deregister).
