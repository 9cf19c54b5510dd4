raise ImportError("the decoy common package was imported instead of cnn.book.common")
