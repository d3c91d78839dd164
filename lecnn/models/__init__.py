from lecnn.models.tables import LENET5_C3, ZIP_H2, rbf_prototypes  # noqa: F401
