"""Helpers for the pseudo-labeling course: data, augmentation, model, training, runs, the original method."""
from . import config, metrics, plots, results, specs
from .augment import normalize, strong_augment, weak_augment
from .data import (CLASSES, CatsDogs, DataError, Images, Split, load_cats_dogs, load_image_folder,
                   random_per_class, split_labeled_unlabeled, split_train_val, stratified_subset)
from .models import make_model
from .pseudo import RoundRecord, SelfTrainResult, control_rounds, pseudo_label, select_confident, self_train
from .course import course_data, split_course
from .train import (CheckpointError, SupervisedStep, TrainStep, evaluate, fast_precision, fit, get_device,
                    load_checkpoint, predict_logits, predict_proba, prepare, save_checkpoint, set_seed)

__version__ = "0.2.0"
