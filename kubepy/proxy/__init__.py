"""The service proxy (kube-proxy's iptables mode): ``model`` turns Services and EndpointSlices
into service ports, ``rules`` generates the iptables-restore input, ``apply`` runs iptables,
``proxier.ServiceProxy`` keeps the rules in step with the API."""
